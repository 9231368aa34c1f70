"""The entry script of the autoscaling run: each request takes 10 ms. A sleep rather than CPU work, so that the
replicas the autoscaler adds serve more on this machine instead of competing with the load for its cores."""
import time

BUSY_SECONDS = 0.010


def init():
    pass


def run(raw_data):
    time.sleep(BUSY_SECONDS)
    return raw_data
