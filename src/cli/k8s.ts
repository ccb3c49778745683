import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CloisterError } from '../lib/errors.js';
import { parsePolicy } from '../attest/index.js';
import { pemCertificates } from '../attest/lib/x509.js';
import { pemCert } from '../pki/index.js';
import { SGX_RESOURCES, type CoordinatorTrust, type ResourceProvider } from '../k8s/webhook/mutate.js';
import { startWebhook } from '../k8s/webhook/server.js';
import { DEVICE_PLUGIN_DIR } from '../k8s/device-plugin/api.js';
import { startDevicePlugin } from '../k8s/device-plugin/plugin.js';
import { Counter } from 'prom-client';
import { gauge, metricsRegistry } from '../server/metrics.js';
import { METRICS_OPTION, startMetrics } from './metrics.js';
import { installLauncher } from '../k8s/launcher.js';
import { checkInstallation } from '../k8s/check.js';
import { parseAddress } from './net.js';
import { action, EXIT, log, parseCount, readJson, untilSignal } from './io.js';

/** The Kubernetes commands: the admission webhook, the SGX device plugin, the launcher, and `k8s check`. */

function provider(text: string, name: string, allowed: readonly string[]): ResourceProvider {
  if (!allowed.includes(text))
    throw new CloisterError('USAGE', `${name}: "${text}" is not one of ${allowed.join(', ')}`);
  return text as ResourceProvider;
}

/**
 * What injected pods trust the coordinator by: exactly one of a root (PEM) and a policy (checked
 * here, so a typo stops the webhook rather than every pod).
 */
function injectedTrust(rootFile: string | undefined, policyFile: string | undefined): CoordinatorTrust {
  if ((rootFile === undefined) === (policyFile === undefined))
    throw new CloisterError(
      'USAGE',
      'give exactly one of --coordinator-root FILE and --coordinator-policy FILE: injected pods trust only the coordinator it names',
    );
  if (rootFile !== undefined) {
    const [root] = pemCertificates(readFileSync(rootFile, 'utf8'), rootFile);
    if (!root) throw new CloisterError('USAGE', `--coordinator-root: ${rootFile} holds no PEM certificate`);
    return { root: pemCert(root) };
  }
  const policy = readJson(policyFile as string);
  parsePolicy(policy);
  return { policy: JSON.stringify(policy) };
}

export function registerK8s(program: Command): void {
  program
    .command('webhook')
    .description('serve the Kubernetes mutating admission webhook that injects cloister into labelled pods')
    .requiredOption('--coordinator <host:port>', "the coordinator's mesh address as pods reach it")
    .requiredOption('--tls-cert <file>', "the webhook's TLS certificate chain (PEM)")
    .requiredOption('--tls-key <file>', 'its private key (PEM)')
    .option('--listen <host:port>', 'where to listen', '0.0.0.0:9443')
    .option('--resources <provider>', `SGX resources to add: ${Object.keys(SGX_RESOURCES).join(', ')}`, 'azure')
    .option('--epc-mib <n>', 'EPC MiB per container when the pod sets none', '10')
    .option(
      '--quote-helper',
      'pods use the AESM quote helper (SGX_AESM_ADDR=1, /var/run/aesmd) unless annotated otherwise',
    )
    .option(
      '--launcher-image <image>',
      'image whose init container delivers the launcher; without it, commands are not wrapped',
    )
    .option('--image-pull-policy <policy>', 'pull policy of the launcher init container')
    .option('--sim-host-path <dir>', 'simulation only: node folder of the simulated platform, mounted into pods')
    .option('--coordinator-root <file>', "the coordinator's root certificate (PEM) injected pods pin")
    .option(
      '--coordinator-policy <file>',
      'the policy (JSON, as `cloister attest verify --policy`) injected pods attest the coordinator against',
    )
    .option(...METRICS_OPTION)
    .action(
      action(
        async (o: {
          coordinator: string;
          tlsCert: string;
          tlsKey: string;
          listen: string;
          resources: string;
          epcMib: string;
          quoteHelper?: boolean;
          launcherImage?: string;
          imagePullPolicy?: string;
          simHostPath?: string;
          coordinatorRoot?: string;
          coordinatorPolicy?: string;
          metricsAddr?: string;
        }) => {
          parseAddress(o.coordinator, '--coordinator');
          const trust = injectedTrust(o.coordinatorRoot, o.coordinatorPolicy);
          const at = parseAddress(o.listen, '--listen');
          const config = {
            coordinator: o.coordinator,
            trust,
            resources: provider(o.resources, '--resources', Object.keys(SGX_RESOURCES)),
            epcMiB: parseCount(o.epcMib, '--epc-mib'),
            quoteHelper: o.quoteHelper === true,
            ...(o.launcherImage !== undefined ? { launcherImage: o.launcherImage } : {}),
            ...(o.imagePullPolicy !== undefined ? { imagePullPolicy: o.imagePullPolicy } : {}),
            ...(o.simHostPath !== undefined ? { simHostPath: o.simHostPath } : {}),
          };
          const registry = metricsRegistry('webhook');
          const reviewed = new Counter({
            name: 'cloister_admission_reviews_total',
            help: 'AdmissionReviews answered, by result: patched (cloister injected), unchanged, or the error code of a refused request',
            labelNames: ['result'],
            registers: [registry],
          });
          const hook = await startWebhook({
            config,
            certFile: o.tlsCert,
            keyFile: o.tlsKey,
            host: at.host,
            port: at.port,
            log,
            reviewed: (result) => reviewed.inc({ result }),
          });
          const metrics = await startMetrics(o.metricsAddr, registry);
          log({ level: 'info', event: 'listening', listen: o.listen, metricsAddr: o.metricsAddr, ...config });
          untilSignal(() => Promise.all([hook.close(), metrics?.close()]));
        },
      ),
    );

  program
    .command('device-plugin')
    .description('serve the SGX EPC device plugin to the kubelet (device-plugin API v1beta1)')
    .option(
      '--resources <provider>',
      'azure: kubernetes.azure.com/sgx_epc_mem_in_MiB; intel: sgx.intel.com/enclave and sgx.intel.com/provision',
      'azure',
    )
    .option(
      '--epc-mib <n>',
      'EPC capacity in MiB (default: read from /sys/devices/system/node/node*/x86/sgx_total_bytes)',
    )
    .option('--enclave-limit <n>', 'intel: containers that may share the enclave and provision devices', '20')
    .option('--no-provision', 'azure: do not hand out /dev/sgx_provision')
    .option('--plugin-dir <dir>', "the kubelet's device-plugin folder", DEVICE_PLUGIN_DIR)
    .option('--dev-dir <dir>', 'where this process finds the SGX device nodes', '/dev')
    .option(
      '--host-dev-dir <dir>',
      'where the host has them, as the kubelet passes them to containers (default: --dev-dir)',
    )
    .option('--sysfs <dir>', 'the sysfs root', '/sys')
    .option('--poll-ms <ms>', 'how often the kubelet socket and device nodes are checked', '1000')
    .option(...METRICS_OPTION)
    .action(
      action(
        async (o: {
          resources: string;
          epcMib?: string;
          enclaveLimit: string;
          provision: boolean;
          pluginDir: string;
          devDir: string;
          hostDevDir?: string;
          sysfs: string;
          pollMs: string;
          metricsAddr?: string;
        }) => {
          const registry = metricsRegistry('device-plugin');
          const events = new Counter({
            name: 'cloister_device_plugin_events_total',
            help: 'Registrations with the kubelet and Allocate calls (allocated or refused), by resource',
            labelNames: ['resource', 'event'],
            registers: [registry],
          });
          const plugin = await startDevicePlugin({
            provider: provider(o.resources, '--resources', ['azure', 'intel']) as 'azure' | 'intel',
            enclaveLimit: parseCount(o.enclaveLimit, '--enclave-limit'),
            provision: o.provision,
            pluginDir: o.pluginDir,
            devDir: o.devDir,
            hostDevDir: o.hostDevDir ?? o.devDir,
            sysfsRoot: o.sysfs,
            pollMs: parseCount(o.pollMs, '--poll-ms', 50),
            log,
            observe: (event, resource) => events.inc({ resource, event }),
            ...(o.epcMib !== undefined ? { epcMiB: parseCount(o.epcMib, '--epc-mib', 0) } : {}),
          });
          gauge(
            registry,
            'cloister_device_plugin_devices',
            'Devices of each resource as the kubelet was last told, by health (Healthy, Unhealthy)',
            () =>
              plugin.devices().map(({ resource, count, health }) => ({ labels: { resource, health }, value: count })),
            ['resource', 'health'],
          );
          const metrics = await startMetrics(o.metricsAddr, registry);
          if (metrics) log({ level: 'info', event: 'metrics', metricsAddr: o.metricsAddr });
          untilSignal(() => {
            plugin.close();
            return metrics?.close();
          });
        },
      ),
    );

  program
    .command('launcher')
    .description('the launcher bundle that starts unmodified programs in any image')
    .command('install')
    .description(
      "write the launcher bundle (cloister, its Node and libraries) to a folder, as the webhook's init container does",
    )
    .argument('<dir>', 'the target folder (e.g. the shared volume)')
    .option('--all', 'all of cloister, the Kubernetes commands too (for an image)')
    .option('--json', 'print the result as JSON')
    .action(
      action(async (dir: string, o: { all?: boolean; json?: boolean }) => {
        const info = installLauncher(dir, o.all === true);
        process.stdout.write(
          o.json
            ? `${JSON.stringify({ ok: true, dir, ...info })}\n`
            : `launcher installed in ${dir} (Node ${info.node}, ${info.arch}, ${info.libraries.length} libraries)\n`,
        );
      }),
    );

  program
    .command('k8s')
    .description('Kubernetes installation')
    .command('check')
    .description('tell whether the coordinator, the admission webhook and the SGX device plugin are up')
    .option('--namespace <ns>', 'the namespace of the installation', 'cloister')
    .option('--release <name>', 'the Helm release (default: any)')
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, ~/.kube/config or in-cluster)')
    .option('--json', 'print the findings as JSON')
    .action(
      action(async (o: { namespace: string; release?: string; kubeconfig?: string; json?: boolean }) => {
        const { KubeConfig } = await import('@kubernetes/client-node');
        const kc = new KubeConfig();
        if (o.kubeconfig) kc.loadFromFile(o.kubeconfig);
        else {
          // loadFromDefault falls back to http://localhost:8080, which every check would then fail to reach.
          const envConfig = process.env['KUBECONFIG'];
          const inCluster = process.env['KUBERNETES_SERVICE_HOST'] !== undefined;
          if (!envConfig && !inCluster && !existsSync(join(homedir(), '.kube', 'config')))
            throw new CloisterError(
              'USAGE',
              'no kubeconfig: give --kubeconfig FILE, set KUBECONFIG, or create ~/.kube/config (not in a pod, so no in-cluster account either)',
            );
          kc.loadFromDefault();
        }
        const findings = await checkInstallation(kc, {
          namespace: o.namespace,
          ...(o.release ? { release: o.release } : {}),
        });
        const ok = findings.every((f) => f.ok);
        process.stdout.write(
          o.json
            ? `${JSON.stringify({ ok, findings })}\n`
            : findings.map((f) => `${f.ok ? 'ok  ' : 'FAIL'} ${f.component}: ${f.detail}\n`).join(''),
        );
        return ok ? EXIT.ok : EXIT.failed;
      }),
    );
}
