# ESP32 config for the boardcast agent: copy to the board as config.py.
# Pin numbers are the ESP32's GPIO numbers.
CONFIG = {
    'id': 'esp32-kitchen',
    'url': 'ws://192.168.1.20:3000/board',  # the Node server's LAN address and board-link path
    'token': 'change-me',                    # the BoardLink `token`
    'backend': 'machine',
    'wifi': {'ssid': 'my-wifi', 'password': 'secret'},
    'pins': [
        {'pin': 5, 'mode': 'output', 'name': 'led'},
        {'pin': 0, 'mode': 'input_pullup', 'name': 'button', 'debounce_ms': 20},  # BOOT button
        {'pin': 34, 'mode': 'analog', 'name': 'light'},
    ],
    'sensors': [
        {'name': 'light', 'kind': 'adc', 'pin': 34, 'scale': 0.0015, 'interval_ms': 1000},
        {'name': 'chip_temp', 'kind': 'temperature', 'interval_ms': 10000},
    ],
    'poll_ms': 10,
    'backoff_min_ms': 500,
    'backoff_max_ms': 30000,
    'watchdog_s': 300,       # machine.reset() after 5 minutes without the server
    'hw_watchdog_ms': 30000,  # machine.WDT: reboot if the agent itself hangs
}
