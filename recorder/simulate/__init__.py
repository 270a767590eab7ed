"""Local stand-ins for the vendor services (real sockets, documented protocol) and a scripted caller."""
