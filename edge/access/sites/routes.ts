import { listQuery, Site, SiteCreate, SiteUpdate } from '../../../core/contracts/api.ts';
import { ownerResource } from '../../lib/resource-routes.ts';

const site = ownerResource({ path: '/v1/sites', tags: ['Sites'], item: Site, one: 'site', many: 'Sites' , permissions: { read: 'sites:read', write: 'sites:write' } });

export const listSites = site.list('List sites', listQuery);
export const createSite = site.create('Create a site', SiteCreate);
export const getSite = site.get('Get a site');
export const updateSite = site.update('Rename a site or change its time zone', SiteUpdate);
