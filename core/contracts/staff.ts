// Staff accounts: the people who run a gym (owner, managers, front desk, trainers, technicians),
// invited by email into one or more organisations, signing in with a password and an
// authenticator code, and holding sessions they and the owner can see and end.
import { z } from 'zod';
import { BuiltInRole, Permission } from '../permissions.ts';
import { name, OrganisationId, phone, Scope, SiteId } from './api.ts';
import { resourceId, Timestamp } from './common.ts';

export const StaffUserId = resourceId('usr');
export const StaffMemberId = resourceId('stf');
export const StaffInvitationId = resourceId('inv');
export const StaffSessionId = resourceId('ses');

const email = z.email('must be an email address').max(320);
export const PASSWORD_MIN = 10;
export const Password = z
  .string()
  .min(PASSWORD_MIN, `must be at least ${PASSWORD_MIN} characters`)
  .max(200, 'must be at most 200 characters')
  .meta({ description: `At least ${PASSWORD_MIN} characters; a phrase of several words is easiest to remember` });
/** A 6-digit authenticator code, or a recovery code (xxxx-xxxx), as typed. */
export const SecondFactorCode = z.string().trim().min(6, 'must be the 6-digit code from the authenticator app, or a recovery code').max(20, 'must be at most 20 characters');

export const CustomRoleId = resourceId('role');
/** A role as staff hold it: a built-in one by name, or the organisation's own by id. */
export const StaffRole = z
  .union([BuiltInRole, CustomRoleId], 'must be a built-in role (owner, manager, front_desk, trainer, technician, read_only) or a role_… id')
  .meta({ id: 'StaffRole', description: 'A built-in role by name, or a custom role of the organisation by id (GET /v1/roles)' });
const roles = z.array(StaffRole).min(1, 'must name at least one role').max(6);
const siteIds = z
  .array(SiteId)
  .max(200)
  .nullable()
  .meta({ description: 'The sites this person works at; null for every site of the organisation' });

export const StaffMember = z
  .object({
    id: StaffMemberId,
    userId: StaffUserId,
    name: z.string(),
    email: z.string(),
    phone: z.string().nullable(),
    roles: z.array(StaffRole),
    siteIds: z.array(SiteId).nullable(),
    permissions: z.array(Permission).meta({ description: 'What the roles add up to' }),
    disabledAt: Timestamp.nullable().meta({ description: 'Set: the person can no longer sign in here, and their sessions here ended at this time' }),
    mfa: z.boolean().meta({ description: 'Whether the person has a second factor: an authenticator app or a passkey' }),
    createdAt: Timestamp,
  })
  .meta({ id: 'StaffMember' });

export const StaffMemberUpdate = z
  .object({ roles, siteIds, disabled: z.boolean().meta({ description: 'true ends every session of theirs here at once and refuses sign-in here' }) })
  .partial()
  .meta({ id: 'StaffMemberUpdate' });

export const StaffInvitationCreate = z
  .object({ email, name, phone: phone.optional(), roles, siteIds: siteIds.optional() })
  .meta({ id: 'StaffInvitationCreate' });

export const StaffInvitation = z
  .object({
    id: StaffInvitationId,
    email: z.string(),
    name: z.string(),
    phone: z.string().nullable(),
    roles: z.array(StaffRole),
    siteIds: z.array(SiteId).nullable(),
    expiresAt: Timestamp,
    acceptedAt: Timestamp.nullable(),
    revokedAt: Timestamp.nullable(),
    createdAt: Timestamp,
  })
  .meta({ id: 'StaffInvitation' });
export const StaffInvitationCreated = StaffInvitation.extend({
  acceptUrl: z.string().meta({ description: 'The link in the invitation email, shown in this response only (to hand over in person if the email does not arrive)' }),
}).meta({ id: 'StaffInvitationCreated' });

export const InvitationAccept = z
  .object({
    token: z.string().min(1, 'must be the token from the invitation link').max(200),
    password: Password.meta({ description: 'A new password; someone who already has an account here signs in with theirs' }),
  })
  .meta({ id: 'InvitationAccept' });
export const InvitationAccepted = z
  .object({ userId: StaffUserId, organisationId: OrganisationId, staffMemberId: StaffMemberId, newAccount: z.boolean() })
  .meta({ id: 'InvitationAccepted' });

export const SignIn = z
  .object({
    email,
    password: z.string().min(1, 'must not be empty').max(200),
    code: SecondFactorCode.optional(),
    organisationId: OrganisationId.optional().meta({ description: 'Which organisation to work in; left out, the first one the person belongs to' }),
  })
  .meta({ id: 'SignIn' });

export const SessionOrganisation = z.object({ id: OrganisationId, name: z.string(), roles: z.array(StaffRole) }).meta({ id: 'SessionOrganisation' });

export const CurrentSession = z
  .object({
    id: StaffSessionId,
    user: z.object({ id: StaffUserId, name: z.string(), email: z.string(), mfa: z.boolean() }),
    organisation: SessionOrganisation,
    permissions: z.array(Permission),
    mfaSetupRequired: z.boolean().meta({ description: 'The organisation requires an authenticator app and this person has none yet: until they set one up, only /v1/auth/* works' }),
    organisations: z.array(SessionOrganisation).meta({ description: 'Every organisation the person may switch this session to' }),
    csrfToken: z.string().meta({ description: 'Send as the X-CSRF-Token header with every write made with the session cookie' }),
    createdAt: Timestamp,
    expiresAt: Timestamp.meta({ description: 'When the session ends unless it is used again (idle) or at the latest (absolute)' }),
  })
  .meta({ id: 'CurrentSession' });

export const StaffSession = z
  .object({
    id: StaffSessionId,
    organisationId: OrganisationId,
    createdAt: Timestamp,
    lastSeenAt: Timestamp,
    expiresAt: Timestamp,
    ip: z.string().nullable(),
    userAgent: z.string().nullable(),
    current: z.boolean(),
  })
  .meta({ id: 'StaffSession' });

export const SwitchOrganisation = z.object({ organisationId: OrganisationId }).meta({ id: 'SwitchOrganisation' });

export const TotpSetup = z
  .object({
    secret: z.string().meta({ description: 'Base32 secret, for typing into an authenticator app' }),
    uri: z.string().meta({ description: 'otpauth:// URI, for a QR code' }),
  })
  .meta({ id: 'TotpSetup' });
export const TotpConfirm = z.object({ code: z.string().trim().regex(/^\d{6}$/, 'must be the 6-digit code the authenticator app shows') }).meta({ id: 'TotpConfirm' });
export const RecoveryCodes = z
  .object({ recoveryCodes: z.array(z.string()).meta({ description: 'Each signs in once in place of an authenticator code. Shown this once.' }) })
  .meta({ id: 'RecoveryCodes' });

export const StaffPasskeyId = resourceId('pky');

/** A passkey as its owner sees it: never its key. */
export const Passkey = z
  .object({
    id: StaffPasskeyId,
    name: z.string(),
    createdAt: Timestamp,
    lastUsedAt: Timestamp.nullable(),
  })
  .meta({ id: 'Passkey' });

const base64url = z.string().max(4096).regex(/^[A-Za-z0-9_-]*$/, 'must be base64url');
/**
 * What the browser's PublicKeyCredential.toJSON() gives: the authenticator's answer is checked in
 * full by the WebAuthn verification, so only its outline is described here.
 */
const credentialJson = <T extends z.ZodRawShape>(response: T) =>
  z.object({
    id: base64url.min(1, 'must be the credential id'),
    rawId: base64url.min(1, 'must be the credential id'),
    type: z.literal('public-key', 'must be "public-key"'),
    response: z.looseObject({ clientDataJSON: base64url.min(1, 'must be the client data'), ...response }),
    authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
    clientExtensionResults: z.looseObject({}).default({}),
  });

export const PasskeyRegister = z
  .object({
    name: z.string().trim().min(1, 'must not be empty').max(60, 'must be at most 60 characters').optional().meta({ description: 'What the person calls it (e.g. "Front desk iPad"); left out, the date it was added' }),
    response: credentialJson({ attestationObject: base64url.min(1, 'must be the attestation object'), transports: z.array(z.string().max(20)).max(10).optional() }),
  })
  .meta({ id: 'PasskeyRegister' });

export const PasskeySignIn = z
  .object({
    response: credentialJson({
      authenticatorData: base64url.min(1, 'must be the authenticator data'),
      signature: base64url.min(1, 'must be the signature'),
      userHandle: base64url.optional(),
    }),
    organisationId: OrganisationId.optional().meta({ description: 'Which organisation to work in; left out, the first one the person belongs to' }),
  })
  .meta({ id: 'PasskeySignIn' });

/** The options to hand to navigator.credentials.create() / .get() (PublicKeyCredential.parse…OptionsFromJSON). */
export const PasskeyOptions = z.looseObject({ challenge: z.string() }).meta({ id: 'PasskeyOptions' });

/** An organisation's own role: a name and the permissions it holds. */
export const CustomRole = z
  .object({ id: CustomRoleId, name: z.string(), permissions: z.array(Permission), createdAt: Timestamp, updatedAt: Timestamp })
  .meta({ id: 'CustomRole' });
const roleName = z.string().trim().min(1, 'must not be empty').max(60, 'must be at most 60 characters');
const rolePermissions = z
  .array(Scope)
  .min(1, 'must name at least one permission or built-in role')
  .max(60)
  .meta({ description: 'Permissions (resource:action) and built-in roles, which stand for their permissions' });
export const CustomRoleCreate = z.object({ name: roleName, permissions: rolePermissions }).meta({ id: 'CustomRoleCreate' });
export const CustomRoleUpdate = z.object({ name: roleName, permissions: rolePermissions }).partial().meta({ id: 'CustomRoleUpdate' });
