import { Door, DoorCreate, DoorUpdate, listQuery, SiteId } from '../../../core/contracts/api.ts';
import { ownerResource } from '../../lib/resource-routes.ts';

const door = ownerResource({ path: '/v1/doors', tags: ['Doors'], item: Door, one: 'door', many: 'Doors' , permissions: { read: 'doors:read', write: 'doors:write' } });

export const listDoors = door.list('List doors, optionally of one site', listQuery.extend({ siteId: SiteId.optional() }));
export const createDoor = door.create('Add a door to a site', DoorCreate, 404);
export const getDoor = door.get('Get a door');
export const updateDoor = door.update('Rename a door', DoorUpdate);
export const deleteDoor = door.remove('Remove a door (its readers then deny)');
