import type { Server } from 'node:http';
import {
  attachBoardLink,
  type Board,
  type BoardLink,
  LinuxGpioBoard,
  SimulatedBoard,
} from '@boardcast/board-adapter-gpio';
import { MqttBoard, tasmota } from '@boardcast/mqtt';

export interface DemoPins {
  /** Output driving the LED (the seeds used GPIO 5 and 12). */
  readonly led: number;
  /** Push-button, wired to ground (GPIO 0 is the ESP32's BOOT button). */
  readonly button: number;
  /** The extra input of the WiPy seed. */
  readonly input: number;
}

export const DEFAULT_PINS: DemoPins = { led: 5, button: 0, input: 4 };

/** How one of the demo's inputs is wired on a kind of board. */
export interface DemoInput {
  /** Shown on the page: `Button`, `Input`. */
  readonly name: string;
  /** Where it is, in the board's own terms: `GPIO 0`, the kernel's line name, `Switch1`. */
  readonly label: string;
  /** Pull the board applies: a button to ground needs `up`; a switch that reports its own state needs none. */
  readonly pull: 'up' | 'down' | 'none';
  /** The level that means pressed / active. */
  readonly activeLevel: 0 | 1;
}

/**
 * The demo's two inputs on `board` (or on the default wiring when there is
 * no board here). GPIO boards (simulated, local, an agent): the button is
 * wired to ground with the internal pull-up (pressed = 0; GPIO 0 is the
 * ESP32's BOOT button), the extra input uses a pull-down (active = 1). A
 * Tasmota or ESPHome switch is not a pull-up button: the device reports its
 * state, ON (1) when closed, so it is active high with no pull, and its name
 * is the device's (`Switch1`), not a GPIO number.
 */
export function demoInputs(board: Board | undefined, pins: DemoPins): { button: DemoInput; input: DemoInput } {
  const named = (pin: number, fallback: string) =>
    board?.capabilities.pins.find((p) => p.pin === pin)?.name ?? fallback;
  if (board?.kind === 'mqtt') {
    return {
      button: { name: 'Button', label: named(pins.button, 'Switch1'), pull: 'none', activeLevel: 1 },
      input: { name: 'Input', label: named(pins.input, 'Switch2'), pull: 'none', activeLevel: 1 },
    };
  }
  // A Linux board's line names (`GPIO17`, `ID_SDA`), or the agent's configured names, where they exist.
  const gpio = (pin: number) => {
    const name = board?.kind === 'simulated' ? undefined : board?.capabilities.pins.find((p) => p.pin === pin)?.name;
    return name && name !== `GPIO${pin}` ? `GPIO ${pin} (${name})` : `GPIO ${pin}`;
  };
  return {
    button: { name: 'Button', label: gpio(pins.button), pull: 'up', activeLevel: 0 },
    input: { name: 'Input', label: gpio(pins.input), pull: 'down', activeLevel: 1 },
  };
}

export type BoardChoice =
  /** No hardware: inputs are driven from the page's virtual board or `POST /api/sim/inputs/<pin>`. */
  | { readonly kind: 'sim'; readonly latencyMs?: number }
  /** A board agent (ESP32 MicroPython, Raspberry Pi CPython) dials in on `path` (default `/board`). */
  | {
      readonly kind: 'remote';
      readonly token: string;
      readonly id: string;
      readonly path?: string;
      readonly heartbeatMs?: number;
    }
  /**
   * Node runs on the Pi itself and drives pins through the GPIO character
   * device: one helper process on python3-libgpiod holds the lines. Pins are
   * BCM GPIO numbers on every Raspberry Pi.
   */
  | {
      readonly kind: 'gpio';
      /** Chip whose offsets the pin numbers are (label, `gpiochipN` or path); default: the Pi's chip by label. */
      readonly chip?: string;
      /** Extra environment for the GPIO helper. */
      readonly env?: Readonly<Record<string, string>>;
      /** Python interpreter for the helper (default `python3`). */
      readonly python?: string;
    }
  /**
   * A Tasmota device on an MQTT broker (`--board mqtt --mqtt-url … --device
   * <topic>`): its relay 1 is the LED pin, confirmed by the device's
   * `stat/<topic>/POWER` report, its switches 1 and 2 the button and input
   * pins; availability is its last will.
   */
  | {
      readonly kind: 'mqtt';
      /** Broker URL (`mqtt://host:1883`, `mqtts://…`); credentials may be in the URL. */
      readonly url: string;
      /** The device's Tasmota `Topic`. */
      readonly device: string;
    }
  /** Any other `Board` you built yourself. */
  | { readonly kind: 'board'; readonly board: Board };

export interface CreatedBoard {
  readonly board: Board;
  /** Set for remote boards: the endpoint agents dial. */
  readonly link?: BoardLink;
}

/** Build the board the demo drives. `server` is where a remote board's link attaches. */
export async function createBoard(
  choice: BoardChoice,
  server: Server,
  pins: DemoPins,
  allowedHosts?: readonly string[],
  trustProxy?: readonly string[],
): Promise<CreatedBoard> {
  switch (choice.kind) {
    case 'sim':
      return { board: new SimulatedBoard({ id: 'sim', latencyMs: choice.latencyMs ?? 0 }) };
    case 'remote': {
      const link = attachBoardLink(server, {
        token: choice.token,
        path: choice.path ?? '/board',
        heartbeatMs: choice.heartbeatMs ?? 5000,
        allowedHosts,
        trustProxy,
      });
      return { board: link.board(choice.id), link };
    }
    case 'gpio': {
      // Pin numbers are BCM numbers: the chip is found by its label
      // (pinctrl-rp1 on a Pi 5, pinctrl-bcm2711/-bcm2835 before), whatever
      // the kernel names the lines, so no flag is needed on any Pi.
      const board = await LinuxGpioBoard.open({
        pins: [pins.led, pins.button, pins.input],
        consumer: 'led-demo',
        ...(choice.chip === undefined ? {} : { chip: choice.chip }),
        ...(choice.env === undefined ? {} : { env: choice.env }),
        ...(choice.python === undefined ? {} : { python: choice.python }),
      });
      return { board };
    }
    case 'mqtt':
      return {
        board: new MqttBoard({
          id: choice.device,
          url: choice.url,
          // Switch1/Switch2 are reported when detached from the relay (SetOption114 1).
          topics: tasmota(choice.device, {
            relays: { [pins.led]: 1 },
            switches: { [pins.button]: 1, [pins.input]: 2 },
          }),
        }),
      };
    case 'board':
      return { board: choice.board };
  }
}
