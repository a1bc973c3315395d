// A proposal's Job outputs as the user fetches them: the Job the proposal's status names, its receipt (in
// Job.status, written by the controller), and the ConfigMap the controller stored the outputs in — every
// output checked again against the receipt's digest before any byte is handed out.
import { isNotFound, kubeRequest } from '../runtime/kube-http.ts';
import { jobOutputsName, StoredOutputError, verifyStoredOutputs, type VerifiedOutput } from '../integrity/job-outputs.ts';
import { OUTPUT_ARTIFACT_PREFIX } from '../integrity/framed-output.ts';
import type { M87Client } from './client.ts';
import { fromApiError, M87ClientError } from './errors.ts';

export interface JobOutputs {
  job: { name: string; uid: string; phase: string | undefined; reason: string | undefined };
  outputs: VerifiedOutput[];
}

export async function fetchJobOutputs(client: M87Client, ref: { namespace: string; proposal: string }): Promise<JobOutputs> {
  const proposal = await client.get('Proposal', { namespace: ref.namespace, name: ref.proposal });
  const jobRef = proposal.status?.jobRef;
  if (jobRef === undefined) throw new M87ClientError('NotFound', `proposal ${ref.proposal} has no Job (phase ${proposal.status?.phase ?? 'Pending'})`);
  const job = await client.get('Job', { namespace: ref.namespace, name: jobRef.name });
  if (job.metadata.uid !== jobRef.uid) throw new M87ClientError('Conflict', `Job ${jobRef.name} is not the one proposal ${ref.proposal} names (another UID)`);
  const info = { name: jobRef.name, uid: jobRef.uid, phase: job.status?.phase, reason: job.status?.reason };
  const receipt = job.status?.receipt;
  if (receipt === undefined) throw new M87ClientError('NotFound', `Job ${jobRef.name} has no receipt yet (phase ${info.phase ?? 'Pending'})`);
  const declared = receipt.artifacts.some((a) => a.path.startsWith(OUTPUT_ARTIFACT_PREFIX));
  const name = jobOutputsName(jobRef.name);
  let configMap: { metadata?: { ownerReferences?: { uid: string; controller?: boolean }[] }; data?: Record<string, string>; binaryData?: Record<string, string> };
  try {
    configMap = await kubeRequest(client.kubeConfig, { method: 'GET', path: `/api/v1/namespaces/${ref.namespace}/configmaps/${name}` });
  } catch (err) {
    if (isNotFound(err) && !declared) return { job: info, outputs: [] };
    if (isNotFound(err)) {
      throw new M87ClientError('NotFound', `Job ${jobRef.name} declared outputs but none were stored (${info.phase ?? 'Pending'}${info.reason ? `, ${info.reason}` : ''})`);
    }
    throw fromApiError(err, `ConfigMap ${ref.namespace}/${name}`);
  }
  if (!(configMap.metadata?.ownerReferences ?? []).some((r) => r.uid === jobRef.uid && r.controller === true)) {
    throw new M87ClientError('Conflict', `ConfigMap ${name} is not owned by Job ${jobRef.name}: not its outputs`);
  }
  try {
    return { job: info, outputs: verifyStoredOutputs(configMap, receipt.artifacts) };
  } catch (err) {
    if (err instanceof StoredOutputError) throw new M87ClientError('InvalidResponse', `outputs of Job ${jobRef.name} do not match its receipt: ${err.message}`);
    throw err;
  }
}
