"""Several worker processes of one server on one machine: slots, sticky routing, the
inter-worker adapter and the supervisor."""
