"""hecathode.structures"""
