"""The sign-in page (ui/login.py), also shown at any other address until someone signs in."""

from ui import login

login.show()
