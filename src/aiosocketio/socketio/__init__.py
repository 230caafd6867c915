"""Socket.IO v5, sans-I/O: packet codec with namespaces, ack ids and binary attachments."""
