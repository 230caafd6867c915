"""Engine.IO v4, sans-I/O: packet and payload codec, session state machine."""
