"""hecathode.calculators"""
