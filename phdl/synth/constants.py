"""Physical constants in cgs units (CODATA 2018), and unit helpers."""

K_B = 1.380649e-16  # Boltzmann constant, erg/K
K_B_EV = 8.617333262e-5  # Boltzmann constant, eV/K
H_PLANCK = 6.62607015e-27  # erg s
C_LIGHT = 2.99792458e10  # cm/s
C_KMS = 2.99792458e5  # km/s
C_AA = 2.99792458e18  # Å/s
M_E = 9.1093837015e-28  # electron mass, g
E_CHARGE = 4.80320471e-10  # esu
AMU = 1.66053906660e-24  # g
EV = 1.602176634e-12  # erg
SIGMA_THOMSON = 6.6524587321e-25  # cm^2
#: pi e^2 / (m_e c): integrated cross section per unit oscillator strength, cm^2 Hz
PI_E2_MC = 0.026540081
#: Saha constant (2 pi m_e k / h^2)^{3/2}, cm^-3 K^-3/2
SAHA_CONST = 2.4146830e15
#: hc/k in Å K
HC_K_AA = 1.4387769e8
