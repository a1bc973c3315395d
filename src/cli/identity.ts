import { AuthenticationV1Api, AuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { GROUP } from '../api/group.ts';
import { apiError, CliError, EXIT } from './output.ts';

/** Who the API server says we are (SelfSubjectReview), so an approver never types their own name. */
export async function whoAmI(kc: KubeConfig): Promise<{ username: string; groups: string[] }> {
  let review;
  try {
    review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
  } catch (err) {
    throw apiError(err, 'SelfSubjectReview');
  }
  const username = review.status?.userInfo?.username;
  if (!username) throw new CliError('the API server did not say who you are (SelfSubjectReview has no username)', EXIT.error);
  return { username, groups: review.status?.userInfo?.groups ?? [] };
}

/** Whether the caller holds the custom `approve` verb on this proposal (the admission policy checks the same). */
export async function canApprove(kc: KubeConfig, namespace: string, proposal: string): Promise<boolean> {
  try {
    const r = await kc.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: { resourceAttributes: { group: GROUP, resource: 'proposals', verb: 'approve', namespace, name: proposal } },
      },
    });
    return r.status?.allowed === true;
  } catch (err) {
    throw apiError(err, 'SelfSubjectAccessReview');
  }
}
