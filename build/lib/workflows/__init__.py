"""hecathode.workflows"""
