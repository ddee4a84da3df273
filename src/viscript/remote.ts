// What a shell session needs from a cluster hub, as interfaces only (the hub lives in cluster/ and imports the
// session, never the other way round): a router that takes the lines naming other machines, and remote shell
// sessions those lines run in.
import type { OutputLine, StreamName } from './app-output.js';

/** A command result, as commands.ts makes them, plus the machine that answered. */
export interface RoutedResult {
  ok: boolean;
  command: string;
  text: string;
  data?: unknown;
  clear?: boolean;
  machine?: string;
}

export interface RemoteAnswer {
  result: RoutedResult | null;
  /** The app id the far session is attached to, if any. */
  attached: number | null;
  following: boolean;
}

/** A shell session on another machine. */
export interface RemoteShell {
  readonly machine: string;
  submit(line: string): Promise<RemoteAnswer>;
  close(): void;
}

export interface RemoteOutput {
  id: number;
  stream: StreamName;
  chunk: string;
  lines: OutputLine[];
}

/** The session side of routing: what the hub calls back. */
export interface RoutedSession {
  readonly interactive: boolean;
  readonly columns?: number;
  /** The line left the far session attached or following: further lines go there until it detaches. */
  useRemote(shell: RemoteShell, answer: RemoteAnswer): void;
  remoteOutput(machine: string, o: RemoteOutput): void;
  remoteEvent(machine: string, e: { event: 'exit' | 'restarting' | 'registered' | 'fatal'; text: string; app: Record<string, unknown> }): void;
  remoteInfo(machine: string, text: string): void;
  remoteAttach(machine: string, attached: number | null): void;
}

export interface ClusterRouter {
  /** The result of a cluster command (`lm`, `la @all`, `ping m2:2`...), or undefined to run the line here. */
  route(words: string[], session: RoutedSession): Promise<RoutedResult> | undefined;
  /** Machine names, for tab completion. */
  machineNames(): string[];
  /** The machines as `lm` shows them (plain JSON), for the desktop's Machines panel. */
  machines(): unknown[];
}
