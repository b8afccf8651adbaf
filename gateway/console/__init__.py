"""The admin console: server-rendered pages for operators, legal reviewers and administrators.

Console users live in the gateway's own tables; every action is a gRPC call to a service
made in the console user's name, so the services' rules hold for people as for apps.
"""
