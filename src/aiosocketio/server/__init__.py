"""The Socket.IO server: Server, Namespace, Socket, broadcast operators."""
