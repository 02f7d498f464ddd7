/**
 * What a029 answers: a searchset Bundle of CareConnect-Task-1 Tasks, one per action the caller may
 * perform now, as the published examples (sandbox/src/mocks/stu3/availableActionsForUserList/)
 * shape it. The Tasks are transient (e-RS says not to cache them), so each answer draws new ids.
 */
import { randomUUID } from 'node:crypto';
import { AVAILABLE_ACTION_SYSTEM, type TaskQuery } from './review-rules.js';

export function taskBundle(
  baseUrl: string,
  query: TaskQuery,
  actions: { code: string; display: string }[],
) {
  const self = `${baseUrl}/Task?focus=${query.focus}&intent=proposal&status=ready`;
  return {
    id: randomUUID(),
    meta: {
      lastUpdated: new Date().toISOString(),
      profile: ['http://hl7.org/fhir/STU3/StructureDefinition/Bundle'],
    },
    resourceType: 'Bundle',
    type: 'searchset',
    link: [{ relation: 'self', url: self }],
    entry: actions.map(({ code, display }) => {
      const id = randomUUID();
      return {
        fullUrl: `${baseUrl}/Task/${id}`,
        resource: {
          id,
          meta: {
            profile: ['https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-Task-1'],
          },
          resourceType: 'Task',
          status: 'ready',
          intent: 'proposal',
          focus: { reference: query.focus },
          code: { coding: [{ system: AVAILABLE_ACTION_SYSTEM, code, display }] },
        },
        search: { mode: 'match' },
      };
    }),
  };
}
