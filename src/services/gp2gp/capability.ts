import type { ApiDescription } from '../../fhir/metadata-route.js';

/** What the GP2GP transfer API serves, for `GET /metadata` (interactions and operations come from its routes). */
export function gp2gpApi(apiPath: string, publicUrl: string): ApiDescription {
  return {
    apiPath,
    publicUrl,
    software: 'OpenSpine GP2GP',
    description:
      'OpenSpine GP2GP: electronic health record transfer between practices, as FHIR Tasks',
    date: '2026-12-06',
    security:
      "OAuth2 bearer tokens with a practice (organisation); X-Request-ID (UUID) on every request; every route needs 'gp2gp.transfer'",
    // the names of TransferService.search's SEARCH_PARAMS
    searchParams: {
      Task: [
        {
          name: 'owner',
          type: 'reference',
          documentation: 'ODS code of the practice sending the record',
        },
        {
          name: 'requester',
          type: 'reference',
          documentation: 'ODS code of the practice asking for the record',
        },
        { name: 'patient', type: 'reference', documentation: 'NHS Number' },
        { name: 'status', type: 'token', documentation: 'Task status' },
        { name: 'business-status', type: 'token', documentation: 'Transfer state' },
        { name: '_count', type: 'number', documentation: '1-500' },
      ],
    },
    documentation: {
      Task: 'One Task per transfer; attachments are uploaded in chunks under Task/[id]/attachment',
    },
  };
}
