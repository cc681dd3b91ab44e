#!/usr/bin/env node
import { UsageError } from '../core/errors.js';

const HELP = `jinyun: industrial edge-to-cloud gateway

usage:
  jinyun edge --config FILE [--check]      run an edge agent (--check: validate the config and exit)
  jinyun spool stats --config FILE [--json] inspect an edge outbox read-only (also --spool FILE)
  jinyun cloud --config FILE [--check]     run the cloud bridge (broker, ingest, API; --check: validate the config and exit)
  jinyun sim modbus --profile coal-mine|steel-plant [--port N] [--rtu-over-tcp] [--serial PATH]
                                           run a Modbus simulator: TCP or RTU over TCP, optionally RTU on a serial port (port 0 = any free port)
  jinyun read --register 40001 [--type float32] [--all-orders] --host H --port P [--unit N] (or --serial PATH, --rtu-over-tcp)
                                           read one Modbus value; --all-orders prints it in every byte/word order
  jinyun scan [--units 1-10] [--table holding] [--addresses 0-99] --host H --port P (or --serial PATH)
                                           probe Modbus unit ids and address ranges and report what answers
  jinyun admin --config FILE <command>     registry: tenant add, gateway add|revoke, token create, mosquitto-acl
  jinyun sim opcua --profile coal-mine|steel-plant [--port N] [--pki DIR] [--faults]
                                           run an OPC UA simulator (node-opcua server, security, users, fault injection)
  jinyun browse opc.tcp://HOST:PORT [--root NODE] [--depth N] [--out FILE] [--endpoints]
        [--security-mode None|Sign|SignAndEncrypt] [--security-policy P] [--user U --password P] [--pki DIR]
                                           walk an OPC UA address space and write a YAML device with every variable
                                           (--endpoints: list the security modes, policies and user tokens the server offers)
  jinyun certs list|trust|reject [ID] --pki DIR (or --config FILE [--device NAME])
                                           OPC UA certificates: list trusted/rejected, move a rejected server certificate to trusted
  jinyun hash-password [--password P]      print the scrypt hash of a gateway password (reads stdin if no --password)
  jinyun demo                              simulator + cloud + edge on free ports, with the demo configs
  jinyun version
`;

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    // Each command loads only its own part (the edge never loads the broker, and the other way round).
    case 'edge': return (await import('../edge/cli.js')).runEdge(rest);
    case 'spool': return (await import('../edge/spool-cli.js')).runSpool(rest);
    case 'cloud': return (await import('../cloud-bridge/bridge.js')).runCloud(rest);
    case 'sim': {
      const [kind, ...simArgs] = rest;
      if (kind === 'modbus') return (await import('../simulators/modbus/cli.js')).runModbusSim(simArgs);
      if (kind === 'opcua') return (await import('../simulators/opcua/cli.js')).runOpcuaSim(simArgs);
      throw new UsageError(`unknown simulator "${kind ?? ''}"; try: jinyun sim modbus --profile coal-mine`);
    }
    case 'read': return (await import('../drivers/modbus/read-cli.js')).runRead(rest);
    case 'scan': return (await import('../drivers/modbus/scan-cli.js')).runScan(rest);
    case 'admin': return (await import('../cloud-bridge/admin.js')).runAdmin(rest);
    case 'browse': return (await import('../drivers/opcua/browse-cli.js')).runBrowse(rest);
    case 'certs': return (await import('../edge/certs-cli.js')).runCerts(rest);
    case 'hash-password': return (await import('../cloud-bridge/credentials.js')).runHashPassword(rest);
    case 'demo': return (await import('./demo.js')).runDemo(rest);
    case 'version': case '--version': process.stdout.write('jinyun 0.1.0\n'); return;
    case undefined: case 'help': case '--help': case '-h': process.stdout.write(HELP); return;
    default: throw new UsageError(`unknown command "${cmd}"\n\n${HELP}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  process.stderr.write(`jinyun: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(usage ? 64 : 1);
});
