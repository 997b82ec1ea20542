"""The demo: the scenario data from the reference posts, loaded through the services."""
