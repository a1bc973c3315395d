import { z } from 'zod';
import { effectSet } from './effects.ts';
import { boundedList, nonEmptyText, text } from './primitives.ts';

export const AgentProfileSpec = z
  .object({
    displayName: nonEmptyText(64, 'Name shown to people, e.g. Casey.'),
    description: text(1024, 'What this agent is for.').optional(),
    subjects: boundedList(
      nonEmptyText(253, 'A username, e.g. system:serviceaccount:agents:casey.'),
      64,
      'Usernames allowed to submit proposals as this agent. A submitter that is not listed is denied.',
    ).default([]),
    groups: boundedList(
      nonEmptyText(253, 'A group name, e.g. system:serviceaccounts:agents.'),
      16,
      'Reserved: group subjects are not yet honoured (proposals record the user only), so listing a group grants nothing.',
    ).optional(),
    allowedEffects: effectSet('Effects this agent may propose; anything else is denied.'),
    maxRisk: z.number().min(0).max(1).meta({ description: 'Risk above this needs a human; a proposal without riskScore counts as this value.' }),
  })
  .meta({ description: 'Who an agent is and what it may propose.' });
export type AgentProfileSpec = z.infer<typeof AgentProfileSpec>;
