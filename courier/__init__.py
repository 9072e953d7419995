"""courier: last-mile sorting and route planning for parcel delivery stations on peak days."""

__version__ = "0.1.0"
