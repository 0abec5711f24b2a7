import { AccessProfile, AccessProfileCreate, AccessProfileUpdate, listQuery } from '../../../core/contracts/api.ts';
import { ownerResource } from '../../lib/resource-routes.ts';

const profile = ownerResource({ path: '/v1/access-profiles', tags: ['Access profiles'], item: AccessProfile, one: 'profile', many: 'Access profiles' , permissions: { read: 'access_profiles:read', write: 'access_profiles:write' } });

export const listProfiles = profile.list('List access profiles (what plans grant)', listQuery);
export const createProfile = profile.create(
  'Create an access profile: sites, door groups, schedule (24/7, staffed hours, off-peak windows), daily cap, staff flags',
  AccessProfileCreate,
);
export const getProfile = profile.get('Get an access profile');
export const updateProfile = profile.update('Change an access profile; every door learns at once', AccessProfileUpdate);
