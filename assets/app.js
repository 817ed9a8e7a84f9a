// The dashboard page: signs in with the token from the address or the form, then shows the
// caller's figures live, the 30-day trend, their tasks and their teams.

import {
  ApiError, claimsOf, currentToken, forgetToken, keepToken, request, takeTokenFromAddress,
  whenUnauthorized,
} from './api.js';
import { showProblem } from './dom.js';
import { isEmpty, renderCards, showFigures } from './figures.js';
import { followFigures } from './live.js';
import { taskList } from './tasks.js';
import { teamsPanel } from './teams.js';
import { showTrend } from './trend.js';

const $ = (id) => document.getElementById(id);

const CONNECTION_TEXT = {
  connecting: 'Connecting…',
  live: 'Live',
  polling: 'Live updates interrupted: refreshing every 5 s',
  offline: 'Offline: retrying',
};

let following = null;
let lastFigures = '';
let trendTimer = null;
let session = 0; // Numbers each sign-in: answers to an earlier one's requests are dropped.

const tasks = taskList({
  list: $('tasks'),
  scope: $('scope'),
  status: $('status'),
  previous: $('previous-page'),
  next: $('next-page'),
  loadError: $('tasks-error'),
  notice: $('tasks-notice'),
  teams: () => teams.known(),
  commanded: () => teams.tasksChanged(),
});

const teams = teamsPanel({
  list: $('teams'),
  more: $('more-teams'),
  createForm: $('team-create-form'),
  notice: $('teams-notice'),
  loadError: $('teams-error'),
  team: {
    section: $('team'),
    name: $('team-name'),
    role: $('team-role'),
    actions: $('team-actions'),
    members: $('members'),
    memberForm: $('member-form'),
    notice: $('team-notice'),
    loadError: $('team-error'),
    cards: $('team-cards'),
    figuresError: $('team-figures-error'),
  },
}, {
  // A task can be shared with a team the caller has just joined or created.
  listed: () => tasks.refresh(),
});

function start() {
  takeTokenFromAddress();
  whenUnauthorized(() => signOut('Your sign-in is no longer valid (expired, or for another server). Sign in again.'));
  $('sign-in-form').addEventListener('submit', (event) => {
    event.preventDefault();
    keepToken($('token-input').value);
    $('token-input').value = '';
    showDashboard();
  });
  $('sign-out').addEventListener('click', () => signOut('Signed out.'));
  $('create-form').addEventListener('submit', createTask);
  $('start-adding').addEventListener('click', () => $('new-title').focus());
  if (currentToken()) showDashboard();
  else showSignIn('');
}

function showSignIn(reason) {
  session += 1;
  following?.stop();
  following = null;
  clearTimeout(trendTimer);
  teams.reset(); // Ends the open team's polling.
  $('dashboard').hidden = true;
  $('who').hidden = true;
  $('sign-out').hidden = true;
  $('connection').textContent = '';
  $('sign-in-reason').textContent = reason;
  $('sign-in').hidden = false;
}

function signOut(reason) {
  forgetToken();
  showSignIn(reason);
}

function showDashboard() {
  const claims = claimsOf(currentToken());
  if (!claims?.sub) {
    signOut('That is not a tally token.');
    return;
  }
  $('user').textContent = claims.sub;
  $('who').hidden = false;
  $('sign-out').hidden = false;
  $('sign-in').hidden = true;
  $('dashboard').hidden = false;
  session += 1;
  const current = session;
  renderCards($('cards'));
  showEmptyState(false);
  tasks.reset();
  teams.reset();
  lastFigures = '';
  loadFigures();
  loadTrend();
  tasks.refresh();
  teams.refresh();
  following = followFigures({
    onFigures: (figures) => { if (current === session) figuresArrived(figures); },
    onState: (state, detail) => {
      $('connection').textContent = CONNECTION_TEXT[state];
      $('connection').dataset.state = state;
      $('connection').title = detail ?? '';
    },
    onUnauthorized: () => signOut('Your sign-in has expired. Sign in again.'),
  });
}

/** The first figures by a plain read, so the cards fill even when streaming is not possible
 * (unless the stream was first: its figures may be newer). */
async function loadFigures() {
  const current = session;
  try {
    const figures = await request('GET', '/api/dashboard');
    if (current === session && !lastFigures) figuresArrived(figures);
  } catch (error) {
    if (current === session && error.status !== 401) {
      showProblem($('figures-error'), `Figures could not be loaded: ${error.message}`, loadFigures);
    }
  }
}

/** New figures mean something changed: the trend, the list and the teams may have too. */
function figuresArrived(figures) {
  showProblem($('figures-error'), null);
  showFigures($('cards'), figures);
  showEmptyState(isEmpty(figures));
  const seen = JSON.stringify(figures);
  if (lastFigures && seen !== lastFigures) {
    tasks.refresh();
    teams.figuresMoved();
    clearTimeout(trendTimer);
    trendTimer = setTimeout(loadTrend, 500);
  }
  lastFigures = seen;
}

/** A new account sees what to do first instead of a chart of zeros. */
function showEmptyState(empty) {
  $('empty-state').hidden = !empty;
  $('trend-panel').hidden = empty;
}

async function loadTrend() {
  const current = session;
  try {
    const trend = await request('GET', '/api/dashboard/trend?days=30');
    if (current !== session) return;
    showProblem($('trend-error'), null);
    showTrend($('trend'), trend.days);
  } catch (error) {
    if (current === session && error.status !== 401) {
      showProblem($('trend-error'), `The trend could not be loaded: ${error.message}`, loadTrend);
    }
  }
}

/** Creates the task, then shows the list with it (marked busy until then). */
async function createTask(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const title = form.elements.title.value;
  const description = form.elements.description.value;
  await tasks.working(async () => {
    try {
      await request('POST', '/api/tasks', description ? { title, description } : { title });
      form.reset();
      showProblem($('tasks-notice'), null);
      if ($('scope').value !== 'owned') {
        $('scope').value = 'owned';
        tasks.reset();
      }
    } catch (error) {
      showProblem($('tasks-notice'), error instanceof ApiError ? error.message : String(error));
    }
    await tasks.refresh();
  });
}

start();
