"""What arrives from the gateways: stored in one transaction each, receipted after the commit."""
