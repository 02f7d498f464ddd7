/**
 * What $ers.changeShortlistAndSendForTriage (a032) answers: eRS-ChangeShortlistAndSendForTriage-
 * Response-Parameters-1 with the updated referral and the appointment created at the triage service,
 * as the published sandbox answer (changeShortlistAndSendForTriage/responses/MinimalRequest.json).
 */
import type { StoredResource } from '../../store/resource-store.js';
import type { Appointment } from './appointment-model.js';
import { appointmentView } from './booking-views.js';
import type { ReferralRequest } from './referral-model.js';
import { referralView } from './referral-views.js';

export function sentForTriageView(
  referral: StoredResource<ReferralRequest>,
  appointment: StoredResource<Appointment>,
) {
  return {
    resourceType: 'Parameters',
    meta: {
      profile: [
        'https://fhir.nhs.uk/STU3/StructureDefinition/eRS-ChangeShortlistAndSendForTriage-Response-Parameters-1',
      ],
    },
    parameter: [
      { name: 'updatedReferralRequest', resource: referralView(referral) },
      { name: 'createdAppointment', resource: appointmentView(appointment) },
    ],
  };
}
