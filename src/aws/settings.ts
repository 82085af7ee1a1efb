/** Explicit client settings; omitted fields come from the SDK's default chain (incl. AWS_ENDPOINT_URL). */
export interface ClientConfig {
  endpoint?: string | undefined;
  region?: string | undefined;
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
}

/** The options every credflow SDK client is built with. */
export function clientSettings(config: ClientConfig) {
  return {
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    ...(config.region ? { region: config.region } : {}),
    ...(config.credentials ? { credentials: config.credentials } : {}),
    // Our own step-level retries live in the state machine; keep SDK retries short.
    maxAttempts: 3,
  };
}
