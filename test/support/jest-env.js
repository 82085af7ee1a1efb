// The AWS SDK warns once per process that Node 20 support ends; the CLI turns that off for users
// (cli/credflow.ts), and the test processes do the same so real warnings stay visible in test logs.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
