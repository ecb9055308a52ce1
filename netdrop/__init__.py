"""netdrop: find and explain silent packet drops on the Linux receive path."""
__version__ = "0.1.0"
