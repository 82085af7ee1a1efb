/**
 * A rotate-fleet run's progress, read from Step Functions the way an operator would: the fleet
 * state the run's execution last handed on (its counts), the page it is rotating (from that page
 * execution's history), and the continuation it went on as. The CLI and the local console read
 * it; no handler does, so no Lambda bundle carries the Step Functions client for it.
 */
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { executionHistory } from '../aws/history';
import type { FleetState } from './fleet';

export interface FleetProgress {
  /** Due secrets counted when the run started (unknown until PlanFleetRotation has run). */
  selected?: number | undefined;
  rotated: number;
  /** Failed so far: for good, or waiting for the retry pass (`awaitingRetry` of them). */
  failed: number;
  awaitingRetry: number;
  inFlight: number;
  /** Selected secrets neither rotated, failed nor in flight. */
  remaining?: number | undefined;
  /** Seconds to go at the rate so far (unknown before the first rotation ends). */
  etaSeconds?: number | undefined;
  /** The execution of the run that is running now (the first, or a continuation). */
  executionArn: string;
  status: string;
}

/** States whose output is the whole fleet state. */
const STATE_HOLDERS = new Set(['PlanFleetRotation', 'SelectFleetPage', 'TallyFleetPage']);

/** What one rotate-fleet execution's history says: its last fleet state and what it does now. */
export interface RunView {
  state?: FleetState | undefined;
  /** RotateFleetPage entered after that state: the page's execution name is `state.current.name`. */
  pageRunning: boolean;
  /** ContinueFleetRotation entered: the run goes on as `state.continuation`. */
  continued: boolean;
}

/** Reads a run's view from its history, newest event first (as GetExecutionHistory reverseOrder gives). */
export function runView(newestFirst: HistoryEvent[]): RunView {
  let pageRunning = false;
  let continued = false;
  for (const e of newestFirst) {
    const entered = e.stateEnteredEventDetails?.name;
    if (entered === 'RotateFleetPage') pageRunning = true;
    if (entered === 'ContinueFleetRotation') continued = true;
    const exited = e.stateExitedEventDetails;
    if (exited?.name && STATE_HOLDERS.has(exited.name) && exited.output) {
      try {
        return { state: JSON.parse(exited.output) as FleetState, pageRunning, continued };
      } catch {
        // An output cut short is not a state: keep looking further back.
      }
    }
  }
  return { pageRunning, continued };
}

/** Rotations a rotate-fleet-page execution started, and those that ended each way. */
export function pageCounts(events: HistoryEvent[]): { started: number; rotated: number; failed: number } {
  let started = 0;
  let rotated = 0;
  let failed = 0;
  for (const e of events) {
    const name = e.stateEnteredEventDetails?.name;
    if (name === 'StartSecretRotation') started++;
    else if (name === 'SecretRotated') rotated++;
    else if (name === 'DescribeRotationFailure') failed++;
  }
  return { started, rotated, failed };
}

/** The run's counts from its last state and the page under way. */
export function progressOf(
  view: RunView,
  page: { started: number; rotated: number; failed: number } | undefined,
  nowMs: number,
  run: { executionArn: string; status: string },
): FleetProgress {
  const s = view.state;
  const p = view.pageRunning && page ? page : { started: 0, rotated: 0, failed: 0 };
  const rotated = (s?.totals.succeeded ?? 0) + p.rotated;
  const awaitingRetry = s?.retry.length ?? 0;
  const failed = (s?.totals.failed ?? 0) + awaitingRetry + p.failed;
  const inFlight = Math.max(0, p.started - p.rotated - p.failed);
  const selected = s?.totals.selected;
  const remaining = selected === undefined ? undefined : Math.max(0, selected - rotated - failed - inFlight);
  // Rate over the run so far; the retry pass re-counts few secrets, so this is an estimate.
  const ended = rotated + (s?.totals.failed ?? 0);
  const elapsed = s ? (nowMs - s.totals.startedMs) / 1000 : 0;
  const etaSeconds =
    remaining !== undefined && ended > 0 && elapsed > 0
      ? Math.round((remaining + inFlight + awaitingRetry) / (ended / elapsed))
      : undefined;
  return {
    selected,
    rotated,
    failed,
    awaitingRetry,
    inFlight,
    remaining,
    etaSeconds,
    executionArn: run.executionArn,
    status: run.status,
  };
}

/** An execution's ARN from its state machine's ARN and its name. */
function executionArnOf(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
}

/** The machine an execution ARN belongs to. */
function machineOf(executionArn: string): string {
  return executionArn.replace(':execution:', ':stateMachine:').replace(/:[^:]+$/, '');
}

/** The newest events of an execution, back to the last fleet state it handed on. */
async function latestView(sfn: SFNClient, executionArn: string): Promise<RunView> {
  const seen: HistoryEvent[] = [];
  let token: string | undefined;
  do {
    const out = await sfn.send(
      new GetExecutionHistoryCommand({
        executionArn,
        reverseOrder: true,
        maxResults: 100,
        ...(token ? { nextToken: token } : {}),
      }),
    );
    seen.push(...(out.events ?? []));
    const view = runView(seen);
    if (view.state) return view;
    token = out.nextToken;
  } while (token);
  return runView(seen);
}

/**
 * The progress of the run `executionArn` started, one look: it follows the run's continuations
 * to the execution running now and reads the page that execution is rotating.
 */
export async function fleetSnapshot(sfn: SFNClient, executionArn: string): Promise<FleetProgress> {
  let arn = executionArn;
  for (;;) {
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
    const view = await latestView(sfn, arn);
    const status = d.status ?? 'RUNNING';
    const next = view.state?.continuation;
    if (view.continued && next) {
      const nextArn = executionArnOf(machineOf(arn), next);
      try {
        await sfn.send(new DescribeExecutionCommand({ executionArn: nextArn }));
        arn = nextArn;
        continue;
      } catch {
        // Not started yet: this execution's state is the latest.
      }
    }
    let page: ReturnType<typeof pageCounts> | undefined;
    const current = view.state?.current;
    if (view.pageRunning && current?.name && view.state) {
      const pageArn = executionArnOf(view.state.options.rotateFleetPageArn, current.name);
      try {
        page = pageCounts(await executionHistory(sfn, pageArn));
      } catch {
        // The page execution is not started yet.
      }
    }
    return progressOf(view, page, Date.now(), { executionArn: arn, status });
  }
}

/** "1m05s" for an ETA. */
export function duration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** One line: `rotated 40/100, failed 2 (1 awaiting retry), in flight 5, remaining 53, ETA 21s`. */
export function progressLine(p: FleetProgress): string {
  const of = p.selected === undefined ? '' : `/${p.selected}`;
  const retry = p.awaitingRetry > 0 ? ` (${p.awaitingRetry} awaiting retry)` : '';
  const remaining = p.remaining === undefined ? '' : `, remaining ${p.remaining}`;
  const eta = p.etaSeconds === undefined ? '' : `, ETA ${duration(p.etaSeconds)}`;
  return `rotated ${p.rotated}${of}, failed ${p.failed}${retry}, in flight ${p.inFlight}${remaining}${eta}`;
}
