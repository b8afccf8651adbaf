"""The REST gateway: business-line API transcoded from the protos, and the pages for people."""
