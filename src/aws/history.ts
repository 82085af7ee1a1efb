import { GetExecutionHistoryCommand, type HistoryEvent, type SFNClient } from '@aws-sdk/client-sfn';

/**
 * An execution's whole history, page by page (the CLI and the local console read it; no
 * handler does, so no Lambda bundle carries the Step Functions client for it).
 */
export async function executionHistory(sfn: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let token: string | undefined;
  do {
    const page = await sfn.send(
      new GetExecutionHistoryCommand({
        executionArn,
        maxResults: 1000,
        ...(token ? { nextToken: token } : {}),
      }),
    );
    events.push(...(page.events ?? []));
    token = page.nextToken;
  } while (token);
  return events;
}
