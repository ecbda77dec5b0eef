import { type IncomingMessage, OppieClient } from '@oppie/client-sdk';
import { nodePlatform } from '@oppie/sidecar-sdk';
import type { DemoPayloads } from '../src/messages.js';

type Type = keyof DemoPayloads;

/** A Node PWA: a real client on the relay, with every message it receives recorded by type. */
export class Phone {
  readonly got: IncomingMessage[] = [];
  private constructor(readonly client: OppieClient) {
    client.events.on('message', (m) => this.got.push(m));
  }

  static async open(relayUrl: string, dataDir: string): Promise<Phone> {
    const client = await OppieClient.create({
      relayUrl,
      role: 'pwa',
      name: 'phone',
      platform: nodePlatform({ dataDir, rtc: false }),
    });
    return new Phone(client);
  }

  of<T extends Type>(type: T, planId?: string): DemoPayloads[T][] {
    return this.got
      .filter((m) => m.type === type)
      .map((m) => m.payload as DemoPayloads[T])
      .filter((p) => planId === undefined || (p as { planId?: string }).planId === planId);
  }

  async until<T extends Type>(type: T, pred: (p: DemoPayloads[T]) => boolean, ms = 15_000): Promise<DemoPayloads[T]> {
    const end = Date.now() + ms;
    for (;;) {
      const hit = this.of(type).find(pred);
      if (hit !== undefined) return hit;
      if (Date.now() > end) throw new Error(`no ${type} matched; got ${this.got.map((m) => m.type).join(',')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
