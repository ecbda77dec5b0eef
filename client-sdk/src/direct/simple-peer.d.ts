// The slice of simple-peer this SDK uses. Its DefinitelyTyped package pulls the DOM library into the core, which is
// compiled without it on purpose (the core must not reach for browser globals), so the types are declared here.
declare module 'simple-peer' {
  interface SimplePeerOptions {
    initiator?: boolean;
    config?: { iceServers?: unknown[]; iceTransportPolicy?: 'all' | 'relay' };
    channelConfig?: { ordered?: boolean };
    trickle?: boolean;
    objectMode?: boolean;
    wrtc?: unknown;
  }
  interface SimplePeerInstance {
    readonly destroyed: boolean;
    /** The RTCPeerConnection underneath (simple-peer's own field; used for stats and ICE errors). */
    readonly _pc: unknown;
    /** simple-peer's own "ICE complete" timer, which its destroy() does not clear. */
    readonly _iceCompleteTimer: unknown;
    signal(data: unknown): void;
    send(data: string | Uint8Array): void;
    destroy(err?: Error): void;
    on(event: 'signal', fn: (data: { type?: string; candidate?: unknown }) => void): this;
    on(event: 'connect' | 'close', fn: () => void): this;
    on(event: 'data', fn: (data: unknown) => void): this;
    on(event: 'error', fn: (err: Error & { code?: string }) => void): this;
    on(event: 'iceStateChange', fn: (ice: string, gathering: string) => void): this;
    on(event: 'connectionStateChange', fn: (state: string) => void): this;
  }
  const SimplePeer: new (opts?: SimplePeerOptions) => SimplePeerInstance;
  export default SimplePeer;
  export type { SimplePeerInstance, SimplePeerOptions };
}
