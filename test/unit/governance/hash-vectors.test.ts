import { describe, expect, it } from 'vitest';
import { canonicalHash, canonicalJson, sha256Hex } from '../../../src/hash/canonical.ts';
import { DEFAULT_POLICY_SPEC } from '../../../src/governance/defaults.ts';

describe('src/hash known vectors', () => {
  it('canonicalises the seed default envelope (snake_case) exactly as seed-api §6.1 and hashes to its DEH', () => {
    const d = DEFAULT_POLICY_SPEC.envelope.defaults;
    const b = d.autonomyBudget;
    const seedDefaultEnvelope = {
      model_id: d.modelId,
      model_source: d.modelSource,
      safety_mode: d.safetyMode,
      inference_policy: { reasoning_mode: d.inferencePolicy.reasoningMode, tool_access_profile: d.inferencePolicy.toolAccessProfile, max_compute_class: d.inferencePolicy.maxComputeClass },
      autonomy_budget: {
        max_steps: b.maxSteps,
        max_tool_calls: b.maxToolCalls,
        max_parallel_agents: b.maxParallelAgents,
        max_runtime_seconds: b.maxRuntimeSeconds,
        max_external_io: b.maxExternalIO,
        max_write_scope: b.maxWriteScope,
      },
    };
    expect(canonicalJson(seedDefaultEnvelope)).toBe(
      '{"autonomy_budget":{"max_external_io":10,"max_parallel_agents":1,"max_runtime_seconds":300,"max_steps":100,"max_tool_calls":50,"max_write_scope":"sandbox"},"inference_policy":{"max_compute_class":"standard","reasoning_mode":false,"tool_access_profile":"default"},"model_id":"m87-runner-v1","model_source":"closed","safety_mode":"safe_default"}',
    );
    expect(canonicalHash(seedDefaultEnvelope)).toBe('1cb97e11989b341a71eefdf12b1837f725bf6a01e753a96b3934f76503f32f4d');
  });

  it('SHA-256 of the empty string (sanity)', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});
