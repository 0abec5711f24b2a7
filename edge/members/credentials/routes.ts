import { Credential, CredentialCreate, CredentialListQuery } from '../../../core/contracts/api.ts';
import { ownerResource } from '../../lib/resource-routes.ts';

const credential = ownerResource({ path: '/v1/credentials', tags: ['Credentials'], item: Credential, one: 'credential', many: 'Credentials' , permissions: { read: 'credentials:read', write: 'credentials:write' } });

export const listCredentials = credential.list('List credentials, optionally of one member', CredentialListQuery);
export const createCredential = credential.create('Issue a card to a member (Wiegand facility code + card number, or the raw card id)', CredentialCreate, 409);
export const getCredential = credential.get('Get a credential');
export const deleteCredential = credential.remove('Withdraw a card; doors stop accepting it at once');
