"""Tutorial notebooks; a package only so that its conftest.py gets a module name of its own."""
