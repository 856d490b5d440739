"""Case events: the envelope, the payload contracts, and the registry that ties them."""
