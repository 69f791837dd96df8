# MicroPython runs main.py at boot: start the agent with config.py.
import boardcast_agent
from config import CONFIG

boardcast_agent.main(CONFIG)
