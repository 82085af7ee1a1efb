/** Where the console lives on the local endpoint: under `/_credflow/`, so behind its guard. */
export const CONSOLE_PATH = '/_credflow/console/';
/** The console's JSON API, under the console's own path. */
export const CONSOLE_API = `${CONSOLE_PATH}api/`;
