"""Old entry point of the offline rocket, kept for queue scripts written before the split.

Queue scripts written before hecathode 0.2 run `python -m workflows.offline_rocket
singleshot --offline`; new ones run `python -m workflows.fireworks.offline_rocket`.
"""

from workflows.fireworks.offline_rocket import main

if __name__ == "__main__":
    raise SystemExit(main())
