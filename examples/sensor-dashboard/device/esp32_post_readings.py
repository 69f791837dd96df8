# ESP32 + MicroPython: post sensor readings to the boardcast sensor dashboard.
#
# Copy to the board as main.py (e.g. `mpremote cp esp32_post_readings.py :main.py`),
# after editing the four settings below. Start the server so the board can reach it:
#   INGEST_TOKEN=change-me pnpm --filter sensor-dashboard start -- --host 0.0.0.0
#
# One JSON POST per interval carries every sensor as a batch; the server stamps
# the receipt time, so the board needs no NTP. A refused batch (4xx) is logged
# and dropped: it would be refused again. Network errors are retried next tick.

import time

import network
import urequests
from machine import ADC, Pin

WIFI_SSID = "my-network"
WIFI_PASSWORD = "my-password"
SERVER = "http://192.168.1.10:3001"  # the dashboard's address on your LAN
TOKEN = "change-me"  # must equal INGEST_TOKEN on the server ("" if unset)
DEVICE = ""  # this board's id when several post to one dashboard, e.g. "kitchen" ("" = the default device)
INTERVAL_S = 2

light_adc = ADC(Pin(34))  # a photoresistor divider on GPIO34
light_adc.atten(ADC.ATTN_11DB)  # full 0-3.3 V range


def read_sensors():
    """Return (sensor, value) pairs. Swap in your parts: DHT22, BME280, BH1750..."""
    readings = []
    try:
        import dht  # built into the ESP32 port

        d = dht.DHT22(Pin(4))
        d.measure()
        readings.append(("temperature", d.temperature()))
        readings.append(("humidity", d.humidity()))
    except (ImportError, OSError) as e:
        print("dht22:", e)
    # 12-bit ADC to a rough 0-1000 lx scale; calibrate for your divider.
    readings.append(("light", round(light_adc.read() * 1000 / 4095)))
    return readings


def connect_wifi():
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if not wlan.isconnected():
        wlan.connect(WIFI_SSID, WIFI_PASSWORD)
        for _ in range(40):
            if wlan.isconnected():
                break
            time.sleep_ms(250)
    print("wifi:", wlan.ifconfig())
    return wlan


def to_json(readings):
    # Formatting by hand keeps this working on builds without the json module.
    items = ['{"sensor":"%s","value":%s}' % (name, repr(float(value))) for name, value in readings]
    return "[" + ",".join(items) + "]"


def ingest_url():
    # The device id travels as ?device= (letters, digits, then also _ . : -; no escaping needed).
    return SERVER + "/api/readings" + ("?device=" + DEVICE if DEVICE else "")


def post(readings):
    headers = {"Content-Type": "application/json"}
    if TOKEN:
        headers["Authorization"] = "Bearer " + TOKEN
    response = urequests.post(ingest_url(), data=to_json(readings), headers=headers)
    try:
        if response.status_code != 200:
            # {"error":{"code":"invalid_payload","message":"batch: 0.value: ..."}}
            print("refused:", response.status_code, response.text)
    finally:
        response.close()  # always: an unclosed socket leaks and the board runs out


def main():
    wlan = connect_wifi()
    while True:
        started = time.ticks_ms()
        try:
            if not wlan.isconnected():
                wlan = connect_wifi()
            post(read_sensors())
        except OSError as e:  # no route, reset, timeout: try again next tick
            print("post failed:", e)
        elapsed = time.ticks_diff(time.ticks_ms(), started)
        time.sleep_ms(max(0, INTERVAL_S * 1000 - elapsed))


main()
