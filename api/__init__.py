"""HTTP only: the app factory, controllers, auth, problem mapping, settings and the CLI."""
