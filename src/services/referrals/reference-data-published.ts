/**
 * Code lists the platform holds no rule for, copied from the published e-RS sandbox's a004 answers
 * (NHSDigital/e-referrals-service-api at c2761d38, sandbox/src/mocks/stu3/getCodeSystem/responses/:
 * SpecialtyCodeSystem.json, ClinicTypeCodeSystem.json, AppointmentCancellationReasonCodeSystem.json,
 * AppointmentNonAttendanceReasonCodeSystem.json, ReferralCancellationReasonCodeSystem.json,
 * PriorityCodeSystem.json). Each concept's published properties are kept; dates are the published
 * effectiveFrom / effectiveTo (a bare date means midnight UTC). The REFERRAL-CANCELLATION-REASON
 * referrer functions are not copied: reference-data-code-systems.ts derives them from the rule
 * the cancel operation applies (REFERRER_CANCELLATION_REASONS), so the two cannot disagree.
 */

/** [code, display, effectiveFrom, effectiveTo?] */
export type DatedConcept = readonly [string, string, string, string?];
/** e-RS specialties (SpecialtyCodeSystem.json). */
export const SPECIALTIES: readonly DatedConcept[] = [
  ['ADULT_MENTAL_ILLNESS', 'Adult Mental Illness', '2004-06-01', '2008-05-09'],
  ['ALLERGY', 'Allergy', '2004-06-01'],
  ['AUDIOLOGICAL_MEDICINE', 'Audiological Medicine', '2004-06-01', '2008-05-09'],
  [
    'BONE_AND_MARROW_TRANSPLANTATION',
    'Bone and Marrow Transplantation',
    '2004-06-01',
    '2008-05-09',
  ],
];

/** Why a patient did not attend (AppointmentNonAttendanceReasonCodeSystem.json). */
export const NON_ATTENDANCE_REASONS: readonly DatedConcept[] = [
  ['CANCELLED_TOO_LATE', 'Cancelled too late', '2004-06-01'],
  ['ARRIVED_TOO_LATE', 'Patient arrived too late to be seen', '2004-06-01'],
  ['PATIENT_FORGOT', 'Patient forgot about appointment', '2004-06-01'],
  ['PATIENT_DIED', 'Patient died', '2004-06-01'],
  ['PATIENT_ILL', 'Patient ill', '2004-06-01'],
  ['UNKNOWN', 'Reason not known', '2004-06-01'],
  ['NOT_SPECIFIED', 'Not specified', '2004-06-01'],
  ['OTHER_MIGRATION_FROM_CAB', 'Other (Migration from CAB)', '2004-06-01', '2012-01-31'],
];

/** [code, display, specialty, effectiveFrom, effectiveTo?] (ClinicTypeCodeSystem.json). */
export const CLINIC_TYPES: readonly (readonly [string, string, string, string, string?])[] = [
  [
    'GENERAL_ADULT_MENTAL_ILLNESS',
    'General Adult Mental Illness',
    'ADULT_MENTAL_ILLNESS',
    '2004-06-01',
    '2008-05-09',
  ],
  ['ALLERGY_1', 'Allergy', 'ALLERGY', '2004-06-01'],
  ['FOOD_AND_DRUG_ALLERGY', 'Food and Drug Allergy', 'ALLERGY', '2004-06-01', '2009-03-14'],
  [
    'GENERAL_PAEDIATRIC_AUDIOLOGICAL_MEDICINE',
    'General Paediatric Audiological Medicine',
    'AUDIOLOGICAL_MEDICINE',
    '2004-06-01',
    '2007-11-16',
  ],
  [
    'GENERAL_ADULT_AUDIOLOGICAL_MEDICINE',
    'General Adult Audiological Medicine',
    'AUDIOLOGICAL_MEDICINE',
    '2004-06-01',
    '2008-05-09',
  ],
  [
    'GENERAL_AUDIOLOGICAL_MEDICINE',
    'General Audiological Medicine',
    'AUDIOLOGICAL_MEDICINE',
    '2004-06-01',
    '2008-05-09',
  ],
  [
    'GENERAL_BONE_AND_MARROW_TRANSPLANTATION',
    'General Bone and Marrow Transplantation',
    'BONE_AND_MARROW_TRANSPLANTATION',
    '2004-06-01',
    '2008-05-09',
  ],
];

export interface AppointmentCancellationConcept {
  code: string;
  display: string;
  from: string;
  to?: string;
  /** appointmentBookingCancellationReasonType */
  type: string;
  willCancelWholeRequest: boolean;
  commentIsMandatory: boolean;
  businessFunctions?: readonly string[];
  usage?: string;
}

/** Why an appointment is cancelled (AppointmentCancellationReasonCodeSystem.json). */
export const APPOINTMENT_CANCELLATION_REASONS: readonly AppointmentCancellationConcept[] = [
  {
    code: 'ADDITIONAL_REQ_NOT_AVAILABLE',
    display: 'Additional requirement not available',
    from: '2004-06-01',
    to: '2007-06-25',
    type: 'PROVIDER',
    willCancelWholeRequest: false,
    commentIsMandatory: false,
  },
  {
    code: 'ADDITIONAL_REQ_NOT_ELIGIBLE',
    display: 'Not eligible for additional requirement',
    from: '2004-06-01',
    type: 'PROVIDER',
    willCancelWholeRequest: false,
    commentIsMandatory: false,
  },
  {
    code: 'ADDITIONAL_REQ_NOT_PROVIDED',
    display: 'Additional req not provided at location',
    from: '2004-06-01',
    type: 'PROVIDER',
    willCancelWholeRequest: false,
    commentIsMandatory: false,
  },
  {
    code: 'ADDITIONAL_REQ_UNAVAILABLE',
    display: 'Additional req unavailable for this appt',
    from: '2004-06-01',
    type: 'PROVIDER',
    willCancelWholeRequest: false,
    commentIsMandatory: false,
  },
  {
    code: 'APPT_MADE_FOR_WRONG_PATIENT',
    display: 'Appt. made for wrong patient',
    from: '2004-06-13',
    to: '2014-10-01',
    type: 'UNKNOWN',
    willCancelWholeRequest: false,
    commentIsMandatory: false,
  },
  {
    code: 'CLINIC_CANCELLED',
    display: 'Clinic cancelled',
    from: '2004-06-01',
    type: 'PROVIDER',
    willCancelWholeRequest: false,
    commentIsMandatory: false,
  },
  {
    code: 'CLINIC_CANCELLED_ALTERNATIVE',
    display: 'Clinic cancelled',
    from: '2004-06-01',
    type: 'PROVIDER',
    willCancelWholeRequest: false,
    commentIsMandatory: false,
  },
  {
    code: 'CLINIC_OVERRUN',
    display: 'Clinic overrun',
    from: '2004-06-01',
    type: 'PROVIDER',
    willCancelWholeRequest: false,
    commentIsMandatory: false,
  },
  {
    code: 'CLINIC_OVERRUN_ALTERNATIVE',
    display: 'Clinic overrun',
    from: '2004-06-01',
    type: 'PROVIDER',
    willCancelWholeRequest: false,
    commentIsMandatory: false,
  },
  {
    code: 'FURTHER_INFORMATION_REQUIRED',
    display: 'Further information required',
    from: '2004-06-01',
    type: 'PROVIDER_REJECT',
    willCancelWholeRequest: false,
    commentIsMandatory: false,
    businessFunctions: ['SERVICE_PROVIDER_CLINICIAN_ADMIN', 'SERVICE_PROVIDER_CLINICIAN'],
    usage: 'REJECT',
  },
  {
    code: 'NOT_SPECIFIED',
    display: 'Not Specified',
    from: '2000-06-01',
    type: 'PROVIDER',
    willCancelWholeRequest: false,
    commentIsMandatory: false,
  },
  {
    code: 'OTHER',
    display: 'Other reason',
    from: '2004-06-01',
    type: 'PROVIDER_REJECT',
    willCancelWholeRequest: false,
    commentIsMandatory: false,
    businessFunctions: ['SERVICE_PROVIDER_CLINICIAN_ADMIN', 'SERVICE_PROVIDER_CLINICIAN'],
    usage: 'REJECT',
  },
  {
    code: 'OTHER_MIGRATION_FROM_CAB',
    display: 'Other',
    from: '2014-10-01',
    to: '2014-10-01',
    type: 'UNKNOWN',
    willCancelWholeRequest: false,
    commentIsMandatory: false,
  },
  {
    code: 'OUTPATIENT_APPT_NOT_REQUIRED',
    display: 'Outpatient appointment not required',
    from: '2004-06-01',
    type: 'PROVIDER_REJECT',
    willCancelWholeRequest: false,
    commentIsMandatory: false,
    businessFunctions: ['SERVICE_PROVIDER_CLINICIAN_ADMIN', 'SERVICE_PROVIDER_CLINICIAN'],
    usage: 'REJECT',
  },
  {
    code: 'PATIENT_APPOINTMENT_CANCELLATION_OTHER',
    display: 'Other',
    from: '2004-06-01',
    type: 'PATIENT',
    willCancelWholeRequest: false,
    commentIsMandatory: true,
    businessFunctions: ['REFERRING_CLINICIAN_ADMIN', 'REFERRING_CLINICIAN'],
    usage: 'CANCEL',
  },
  {
    code: 'PATIENT_APPOINTMENT_CLASH',
    display: 'Patient - Clashes with another appointment',
    from: '2004-06-01',
    to: '2007-06-01',
    type: 'UNKNOWN',
    willCancelWholeRequest: false,
    commentIsMandatory: false,
  },
  {
    code: 'PATIENT_HOLIDAY',
    display: 'Patient on holiday',
    from: '2004-06-01',
    type: 'PATIENT',
    willCancelWholeRequest: false,
    commentIsMandatory: false,
    businessFunctions: ['REFERRING_CLINICIAN_ADMIN', 'REFERRING_CLINICIAN'],
    usage: 'CANCEL',
  },
  {
    code: 'PATIENT_ILL',
    display: 'Patient is sick',
    from: '2004-06-01',
    type: 'PATIENT',
    willCancelWholeRequest: false,
    commentIsMandatory: false,
    businessFunctions: ['REFERRING_CLINICIAN_ADMIN', 'REFERRING_CLINICIAN'],
    usage: 'CANCEL',
  },
  {
    code: 'PATIENT_OTHER_ENGAGEMENT',
    display: 'Patient - Other more pressing engagement',
    from: '2004-06-01',
    type: 'PATIENT',
    willCancelWholeRequest: false,
    commentIsMandatory: true,
    businessFunctions: ['REFERRING_CLINICIAN_ADMIN', 'REFERRING_CLINICIAN'],
    usage: 'CANCEL',
  },
  {
    code: 'PRIORITY_CHANGE',
    display: 'Priority change for other reasons',
    from: '2004-06-01',
    type: 'PROVIDER',
    willCancelWholeRequest: false,
    commentIsMandatory: true,
  },
  {
    code: 'PRIORITY_INAPPROPRIATE',
    display: 'Inappropriate priority',
    from: '2004-06-01',
    type: 'PROVIDER',
    willCancelWholeRequest: false,
    commentIsMandatory: true,
  },
  {
    code: 'PROVIDER_CANCELLATION',
    display: 'Other - Provider cancellation',
    from: '2004-06-01',
    type: 'PROVIDER',
    willCancelWholeRequest: false,
    commentIsMandatory: true,
  },
  {
    code: 'REDIRECTED_AGE',
    display: 'Redirected due to patient age',
    from: '2004-06-01',
    type: 'UNKNOWN',
    willCancelWholeRequest: false,
    commentIsMandatory: true,
  },
  {
    code: 'REDIRECTED_APPROPRIATE_CLINIC',
    display: 'Redirected to more appropriate clinic',
    from: '2004-06-01',
    type: 'UNKNOWN',
    willCancelWholeRequest: false,
    commentIsMandatory: true,
  },
  {
    code: 'REDIRECTED_APPROPRIATE_SPECIALTY',
    display: 'Redirected to more appropriate specialty',
    from: '2004-06-01',
    type: 'UNKNOWN',
    willCancelWholeRequest: false,
    commentIsMandatory: true,
  },
  {
    code: 'REDIRECTED_CONFIDENTIALITY',
    display: 'Redirected due to confidentiality',
    from: '2004-06-01',
    type: 'UNKNOWN',
    willCancelWholeRequest: false,
    commentIsMandatory: true,
  },
  {
    code: 'REDIRECTED_GENDER',
    display: 'Redirected due to patient gender',
    from: '2004-06-01',
    type: 'UNKNOWN',
    willCancelWholeRequest: false,
    commentIsMandatory: true,
  },
  {
    code: 'REDIRECTED_OTHER',
    display: 'Redirected due to other reason',
    from: '2004-06-01',
    type: 'UNKNOWN',
    willCancelWholeRequest: false,
    commentIsMandatory: true,
  },
  {
    code: 'REDIRECTED_PRIORITY',
    display: 'Redirected due to priority',
    from: '2004-06-01',
    type: 'UNKNOWN',
    willCancelWholeRequest: false,
    commentIsMandatory: true,
  },
  {
    code: 'REDIRECTED_STAFF_VACATION',
    display: 'Redirected due to staff vacation',
    from: '2004-06-01',
    type: 'UNKNOWN',
    willCancelWholeRequest: false,
    commentIsMandatory: true,
  },
  {
    code: 'REDIRECTED_TEMPORARILY',
    display: 'A Temporary Redirected Reason',
    from: '2004-06-01',
    to: '2014-10-01',
    type: 'UNKNOWN',
    willCancelWholeRequest: false,
    commentIsMandatory: false,
  },
  {
    code: 'SERVICE_INAPPROPRIATE',
    display: 'Inappropriate service',
    from: '2004-06-01',
    type: 'PROVIDER_REJECT',
    willCancelWholeRequest: false,
    commentIsMandatory: false,
    businessFunctions: ['SERVICE_PROVIDER_CLINICIAN_ADMIN', 'SERVICE_PROVIDER_CLINICIAN'],
    usage: 'REJECT',
  },
  {
    code: 'SERVICE_PREREQUISITES_NOT_COMPLETE',
    display: 'Pre-requisites for service not complete',
    from: '2004-06-01',
    type: 'PROVIDER_REJECT',
    willCancelWholeRequest: false,
    commentIsMandatory: false,
    businessFunctions: ['SERVICE_PROVIDER_CLINICIAN_ADMIN', 'SERVICE_PROVIDER_CLINICIAN'],
    usage: 'REJECT',
  },
  {
    code: 'SLOT_CANCELLED',
    display: 'Slot cancelled',
    from: '2004-06-01',
    type: 'PROVIDER',
    willCancelWholeRequest: false,
    commentIsMandatory: false,
  },
  {
    code: 'SLOT_CANCELLED_ALTERNATIVE',
    display: 'Slot cancelled',
    from: '2004-06-01',
    type: 'PROVIDER',
    willCancelWholeRequest: false,
    commentIsMandatory: false,
  },
  {
    code: 'WRONG_PROVIDER',
    display: 'Appt. made with wrong provider',
    from: '2004-02-13',
    to: '2004-06-13',
    type: 'UNKNOWN',
    willCancelWholeRequest: false,
    commentIsMandatory: false,
  },
];

export interface ReferralCancellationConcept {
  code: string;
  display: string;
  from: string;
  /** appointmentRequestCancellationReasonType */
  type: string;
  commentIsMandatory: boolean;
  canCancelAppointment: boolean;
  /** The published provider-side business functions (the referrer ones are derived). */
  providerFunctions: readonly string[];
  /** Published with referrerUsage CANCEL_REFERRAL. */
  cancelReferral: boolean;
}

/** Why a referral is cancelled (ReferralCancellationReasonCodeSystem.json). */
export const REFERRAL_CANCELLATION_REASONS: readonly ReferralCancellationConcept[] = [
  {
    code: 'BOOKED_CLINICAL_NEED',
    display: 'Booked more urgently due to clinical need',
    from: '2019-07-23T17:09:56.000Z',
    type: 'PROVIDER_TRIAGE',
    commentIsMandatory: true,
    canCancelAppointment: false,
    providerFunctions: [
      'SERVICE_PROVIDER_CLINICIAN',
      'SERVICE_PROVIDER_CLINICIAN_ADMIN',
      'PROVIDER_AUTHORISED_APPLICATION',
    ],
    cancelReferral: true,
  },
  {
    code: 'BOOKED_OUTSIDE_CAB',
    display: 'Patient booked outside NHS e-Referral Service',
    from: '2007-09-14',
    type: 'PROVIDER',
    commentIsMandatory: false,
    canCancelAppointment: true,
    providerFunctions: [
      'SERVICE_PROVIDER_CLINICIAN',
      'SERVICE_PROVIDER_CLINICIAN_ADMIN',
      'PROVIDER_AUTHORISED_APPLICATION',
    ],
    cancelReferral: true,
  },
  {
    code: 'COMMUNITY_SERVICE_NA',
    display: 'Sent to community service not available in this system',
    from: '2019-07-23T17:09:56.000Z',
    type: 'PROVIDER_TRIAGE',
    commentIsMandatory: true,
    canCancelAppointment: false,
    providerFunctions: [
      'SERVICE_PROVIDER_CLINICIAN',
      'SERVICE_PROVIDER_CLINICIAN_ADMIN',
      'PROVIDER_AUTHORISED_APPLICATION',
    ],
    cancelReferral: true,
  },
  {
    code: 'COMPLEX_PATHWAY',
    display: 'Complex pathway, multiple appointments needed',
    from: '2019-07-23T17:09:56.000Z',
    type: 'PROVIDER_TRIAGE',
    commentIsMandatory: true,
    canCancelAppointment: false,
    providerFunctions: [
      'SERVICE_PROVIDER_CLINICIAN',
      'SERVICE_PROVIDER_CLINICIAN_ADMIN',
      'PROVIDER_AUTHORISED_APPLICATION',
    ],
    cancelReferral: true,
  },
  {
    code: 'INTEND_PRIVATE',
    display: 'Patient will go to a private clinic',
    from: '2004-06-01',
    type: 'PATIENT',
    commentIsMandatory: false,
    canCancelAppointment: true,
    providerFunctions: [
      'SERVICE_PROVIDER_CLINICIAN',
      'SERVICE_PROVIDER_CLINICIAN_ADMIN',
      'PROVIDER_AUTHORISED_APPLICATION',
    ],
    cancelReferral: true,
  },
  {
    code: 'NO_LONGER_REQUIRED',
    display: 'Referral is no longer required',
    from: '2019-07-23T17:09:56.000Z',
    type: 'PROVIDER_TRIAGE',
    commentIsMandatory: true,
    canCancelAppointment: false,
    providerFunctions: [
      'SERVICE_PROVIDER_CLINICIAN',
      'SERVICE_PROVIDER_CLINICIAN_ADMIN',
      'PROVIDER_AUTHORISED_APPLICATION',
    ],
    cancelReferral: true,
  },
  {
    code: 'OTHER_OTHER',
    display: 'Other reason',
    from: '2019-07-23T17:09:56.000Z',
    type: 'PROVIDER_TRIAGE',
    commentIsMandatory: true,
    canCancelAppointment: false,
    providerFunctions: [
      'SERVICE_PROVIDER_CLINICIAN',
      'SERVICE_PROVIDER_CLINICIAN_ADMIN',
      'PROVIDER_AUTHORISED_APPLICATION',
    ],
    cancelReferral: true,
  },
  {
    code: 'OUTPATIENT_CLINICIAN_NA',
    display: 'Sent to outpatient service as named clinician is not available in this system',
    from: '2019-07-23T17:09:56.000Z',
    type: 'PROVIDER_TRIAGE',
    commentIsMandatory: true,
    canCancelAppointment: false,
    providerFunctions: [
      'SERVICE_PROVIDER_CLINICIAN',
      'SERVICE_PROVIDER_CLINICIAN_ADMIN',
      'PROVIDER_AUTHORISED_APPLICATION',
    ],
    cancelReferral: true,
  },
  {
    code: 'OUTPATIENT_SERVICE_NA',
    display: 'Sent to outpatient service not available in this system',
    from: '2019-07-23T17:09:56.000Z',
    type: 'PROVIDER_TRIAGE',
    commentIsMandatory: true,
    canCancelAppointment: false,
    providerFunctions: [
      'SERVICE_PROVIDER_CLINICIAN',
      'SERVICE_PROVIDER_CLINICIAN_ADMIN',
      'PROVIDER_AUTHORISED_APPLICATION',
    ],
    cancelReferral: true,
  },
  {
    code: 'PATIENT_DIED',
    display: 'Patient died',
    from: '2004-06-01',
    type: 'PATIENT',
    commentIsMandatory: false,
    canCancelAppointment: true,
    providerFunctions: [
      'SERVICE_PROVIDER_CLINICIAN',
      'SERVICE_PROVIDER_CLINICIAN_ADMIN',
      'PROVIDER_AUTHORISED_APPLICATION',
    ],
    cancelReferral: true,
  },
  {
    code: 'PATIENT_REQUEST_CANCELLATION_OTHER',
    display: 'Other',
    from: '2004-06-01',
    type: 'PATIENT',
    commentIsMandatory: true,
    canCancelAppointment: true,
    providerFunctions: [
      'SERVICE_PROVIDER_CLINICIAN',
      'SERVICE_PROVIDER_CLINICIAN_ADMIN',
      'PROVIDER_AUTHORISED_APPLICATION',
    ],
    cancelReferral: true,
  },
  {
    code: 'RAISED_IN_ERROR',
    display: 'Referral created by mistake',
    from: '2007-09-14',
    type: 'UNKNOWN',
    commentIsMandatory: false,
    canCancelAppointment: true,
    providerFunctions: [],
    cancelReferral: true,
  },
  {
    code: 'REFERRER_CANCELLATION',
    display: 'Other - Referrer request cancellation',
    from: '2007-09-14',
    type: 'UNKNOWN',
    commentIsMandatory: false,
    canCancelAppointment: true,
    providerFunctions: [],
    cancelReferral: true,
  },
  {
    code: 'STRAIGHT_TO_TEST',
    display: 'Sent straight to test / procedure',
    from: '2019-07-23T17:09:56.000Z',
    type: 'PROVIDER_TRIAGE',
    commentIsMandatory: true,
    canCancelAppointment: false,
    providerFunctions: [
      'SERVICE_PROVIDER_CLINICIAN',
      'SERVICE_PROVIDER_CLINICIAN_ADMIN',
      'PROVIDER_AUTHORISED_APPLICATION',
    ],
    cancelReferral: true,
  },
  {
    code: 'TREATMENT_NO_LONGER_REQUIRED',
    display: 'Referral no longer needed',
    from: '2004-06-01',
    type: 'PATIENT',
    commentIsMandatory: false,
    canCancelAppointment: true,
    providerFunctions: [
      'SERVICE_PROVIDER_CLINICIAN',
      'SERVICE_PROVIDER_CLINICIAN_ADMIN',
      'PROVIDER_AUTHORISED_APPLICATION',
    ],
    cancelReferral: true,
  },
  {
    code: 'TRIAGE_ENDED',
    display: 'Triage Ended',
    from: '2019-07-23T17:09:56.000Z',
    type: 'PROVIDER_TRIAGE',
    commentIsMandatory: false,
    canCancelAppointment: false,
    providerFunctions: [
      'SERVICE_PROVIDER_CLINICIAN',
      'SERVICE_PROVIDER_CLINICIAN_ADMIN',
      'PROVIDER_AUTHORISED_APPLICATION',
    ],
    cancelReferral: true,
  },
  {
    code: 'PATIENT_APPOINTMENT_CANCELLATION_OTHER',
    display: 'Other',
    from: '2004-06-01',
    type: 'PATIENT',
    commentIsMandatory: false,
    canCancelAppointment: true,
    providerFunctions: [],
    cancelReferral: false,
  },
  {
    code: 'PROVIDER_CANCELLATION',
    display: 'Other - Provider Cancellation',
    from: '2004-06-01',
    type: 'UNKNOWN',
    commentIsMandatory: false,
    canCancelAppointment: true,
    providerFunctions: [],
    cancelReferral: false,
  },
];

/** Priorities' displays and contact days (PriorityCodeSystem.json); the codes are the directory's ERS_PRIORITIES. */
export const PRIORITY_DETAILS = {
  ROUTINE: {
    display: 'Routine',
    from: '2004-06-01',
    deferToProviderContactDays: 40,
    triageContactDays: 40,
  },
  URGENT: {
    display: 'urgent',
    from: '2004-06-01',
    deferToProviderContactDays: 10,
    triageContactDays: 5,
  },
  TWO_WEEK_WAIT: {
    display: 'Two Week Wait',
    from: '2004-06-01',
    deferToProviderContactDays: 5,
    triageContactDays: 2,
  },
} as const;
