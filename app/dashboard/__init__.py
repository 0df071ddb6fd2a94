"""The executives' dashboard: the metrics they read, as figures and server-drawn SVG charts."""
