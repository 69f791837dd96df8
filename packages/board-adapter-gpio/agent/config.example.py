# ESP32 config for the boardcast agent: copy to the board as config.py.
# Pin numbers are the ESP32's GPIO numbers. Every key is checked at start;
# a wrong one stops the agent with "config error: KEY must be ...".
CONFIG = {
    'id': 'esp32-kitchen',
    # wss:// with a CA (README "TLS on a LAN"): the token never leaves unverified.
    'url': 'wss://192.168.1.20:3443/board',
    'ca': 'ca.pem',                          # copy the CA certificate next to config.py
    # 'cert_sha256': 'ab12...',              # or pin the server certificate instead
    'token': 'change-me',                    # the BoardLink `token`
    'backend': 'machine',
    'wifi': {'ssid': 'my-wifi', 'password': 'secret'},
    'pins': [
        {'pin': 5, 'mode': 'output', 'name': 'led'},
        {'pin': 2, 'mode': 'output', 'name': 'relay', 'active_low': True},  # starts off (pin high)
        {'pin': 0, 'mode': 'input_pullup', 'name': 'button', 'debounce_ms': 20},  # BOOT button, Pin.irq
        {'pin': 34, 'mode': 'analog', 'name': 'light'},
    ],
    'sensors': [
        {'name': 'light', 'kind': 'adc', 'pin': 34, 'scale': 0.0015, 'interval_ms': 1000},
        {'name': 'chip_temp', 'kind': 'mcu_temperature', 'interval_ms': 10000},
    ],
    'hw_watchdog_ms': 10000,  # machine.WDT, fed only while every agent loop makes progress
    'watchdog_s': 0,          # opt-in: reboot after this long without a server (0 = never)
}
