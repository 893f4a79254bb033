// Minimal typing for @xmpp/client 0.14 (it ships none): what the tests use.
declare module '@xmpp/client' {
  import type { Element } from '@xmpp/xml';
  import { EventEmitter } from 'node:events';
  export { xml } from '@xmpp/xml';
  export interface XmppClient extends EventEmitter {
    jid: { toString(): string; local: string; domain: string; resource: string } | null;
    status: string;
    start(): Promise<unknown>;
    stop(): Promise<unknown>;
    send(el: Element): Promise<void>;
    iqCaller: {
      request(el: Element, timeout?: number): Promise<Element>;
      get(el: Element, to?: string): Promise<Element>;
      set(el: Element, to?: string): Promise<Element>;
    };
    reconnect: { stop(): void; delay: number };
    socket: { destroy(): void; write(data: string, cb?: (err?: Error) => void): void } | null;
    streamManagement?: { enabled: boolean };
  }
  export function client(options: {
    service: string;
    domain: string;
    username?: string;
    password?: string;
    resource?: string;
    credentials?: unknown;
    timeout?: number;
  }): XmppClient;
}
