"""Standing security tests of the origin: hostile tokens, paths, requests and inputs."""
