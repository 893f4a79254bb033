// The `waddle` command (in the spirit of prosodyctl): start, user add|passwd|del|list, check.
import { parseArgs } from 'node:util';
import { runCheck } from './cli/check.ts';
import { runUser } from './cli/user.ts';
import { runWaddle, WADDLE_USAGE } from './cli/waddle.ts';
import { ConfigError, loadConfig } from './config/load.ts';
import { startServer } from './primary/start.ts';

const USAGE = `usage: waddle <command> [--config FILE]
  start                       run the server (SIGTERM or Ctrl-C stops it gracefully)
  user add JID [--password P] create an account (reads the password from stdin if not given)
  user passwd JID [--password P]
  user del JID
  user list
  user retention JID DAYS|forever|default   how long the user's message archive is kept
  check                       validate the configuration and the TLS certificate
${WADDLE_USAGE}
environment overrides: WADDLE_DOMAIN WADDLE_DATA_DIR WADDLE_WORKERS WADDLE_C2S_PORT WADDLE_C2S_TLS_PORT
  WADDLE_HTTP_PORT WADDLE_REGISTRATION WADDLE_ADMINS WADDLE_LOG_LEVEL WADDLE_OTLP_ENDPOINT`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      password: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      // waddle waddle ...
      name: { type: 'string' },
      owner: { type: 'string' },
      role: { type: 'string' },
      channel: { type: 'string' },
      title: { type: 'string' },
      restricted: { type: 'boolean' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 2;
  }
  const config = loadConfig({ file: values.config, env: process.env });
  switch (command) {
    case 'start': {
      const server = await startServer(config);
      await new Promise<void>((resolve) => {
        const stop = () => void server.stop().then(resolve);
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      return 0;
    }
    case 'user':
      return runUser(config, rest, values.password);
    case 'check':
      return runCheck(config);
    case 'waddle':
      return runWaddle(config, rest, values);
    default:
      console.error(`unknown command '${command}'\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) console.error(err.message);
    else console.error(err);
    process.exit(1);
  },
);
